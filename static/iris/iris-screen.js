/* What the IRIS jsPsych plugins share: building a screen from data without writing markup, loading a
 * trial's images before anything is shown, and timing a response from the frame that showed them.
 *
 * Nothing here parses HTML. Text goes in as text nodes (a label such as `<img src=x onerror=...>`
 * is shown as those characters), attributes through setAttribute and image URLs through .src.
 *
 * An answer is only about what was seen: a plugin puts its screen on the page only once every image
 * on it has decoded. A failed image is tried again after a pause that doubles each time; if it still
 * fails, the plugin ends the trial without showing it, with `unavailable: true` and the failed URLs,
 * and the runner decides what happens next. */
var IrisScreen = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;

  /** Data fields of one type: fields(P.FLOAT, "onset_ms", "offset_ms") declares both as floats. */
  const fields = (type, ...names) => Object.fromEntries(names.map((name) => [name, { type }]));

  /** The image-loading parameters every IRIS image plugin takes (imagePluginInfo adds them). */
  const IMAGE_PARAMETERS = {
    /** Further tries of an image that failed to load or decode. */
    image_retries: { type: P.INT, default: 2 },
    /** The pause before the first further try; each later pause doubles. */
    image_retry_ms: { type: P.INT, default: 500 },
    /** One try that has not decoded after this long counts as failed. */
    image_timeout_ms: { type: P.INT, default: 15000 },
    /** The display's refresh period measured at the study's start (ms); null: unknown (the timed
     * plugin then measures it itself; the others count no dropped frames). */
    frame_ms: { type: P.FLOAT, default: null },
  };

  /** The data every IRIS image plugin records, besides its answer (imagePluginInfo adds them). Times are
   * performance.now() milliseconds. */
  const RESPONSE_DATA = {
    ...fields(P.FLOAT, "rt", "onset_ms", "offset_ms", "response_ms"),
    response_source: { type: P.STRING },
    /** True when an image never loaded: the trial was not shown and holds no answer. */
    unavailable: { type: P.BOOL },
    failed_images: { type: P.STRING, array: true },
    /** The (first) image's width on screen at onset, in CSS pixels. */
    image_px: { type: P.FLOAT },
    /** Frames the display skipped while the screen was up (an interval of n refreshes counts n - 1);
     * null when the refresh period is unknown. */
    dropped_frames: { type: P.INT },
  };

  /** A plugin's `info` as jsPsych reads it: the plugin's own parameters and data, then those every
   * IRIS image plugin shares (IMAGE_PARAMETERS, RESPONSE_DATA). */
  function imagePluginInfo({ parameters, data, ...named }) {
    return { ...named, parameters: { ...parameters, ...IMAGE_PARAMETERS }, data: { ...data, ...RESPONSE_DATA } };
  }

  /** A new element: el("button", { class: "iris-option", "data-choice": 0 }, image, "text", ...).
   * Children are nodes or strings; strings become text nodes, never markup. */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    node.append(...children);
    return node;
  }

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** One try: an <img> for `url`, resolved once decoded (it paints on the next frame). */
  function imageTry(url, timeoutMs) {
    const image = new Image();
    image.alt = "";
    image.draggable = false;
    image.src = url;
    const late = pause(timeoutMs).then(() => { throw new Error(`no image after ${timeoutMs} ms`); });
    return Promise.race([image.decode(), late]).then(() => image);
  }

  /** The decoded image at `url`, tried 1 + retries times with doubling pauses; rejects with the URL. */
  async function imageLoad(url, trial) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await imageTry(url, trial.image_timeout_ms);
      } catch (failure) {
        if (attempt >= trial.image_retries) throw url;
      }
      await pause(trial.image_retry_ms * 2 ** attempt);
    }
  }

  /** Every image decoded, in order; or the list of the URLs that never loaded. */
  async function imagesLoad(urls, trial) {
    const results = await Promise.allSettled(urls.map((url) => imageLoad(url, trial)));
    const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason);
    if (failed.length) throw failed;
    return results.map((r) => r.value);
  }

  /** The trial's data when it could not be shown: no answer, no times. */
  function unavailableData(failed, answerFields) {
    const data = { unavailable: true, failed_images: failed };
    for (const name of [...answerFields, "rt", "onset_ms", "offset_ms", "response_ms", "response_source",
      "image_px", "dropped_frames"]) {
      data[name] = null;
    }
    return data;
  }

  /** Take one answer from `buttons` ([element, value] pairs, by pointer) or `keys` (keys[i] answers
   * keyValue(i)), once `ready()`: then the screen is cleared and `answered(value, when, source)` called,
   * `when` on the performance clock. Later answers are ignored. */
  function listenOnce(jsPsych, display, { buttons, keys, keyValue, ready = () => true, answered }) {
    let done = false;
    const finish = (value, when, source) => {
      if (done || !ready()) return;
      done = true;
      jsPsych.pluginAPI.cancelAllKeyboardResponses();
      display.replaceChildren();
      answered(value, when, source);
    };
    for (const [button, value] of buttons) {
      button.addEventListener("pointerup", (event) => finish(value, event.timeStamp, event.pointerType || "mouse"));
    }
    // jsPsych times keys from when listening starts (performance clock); this puts them on that clock.
    const listening = performance.now();
    jsPsych.pluginAPI.getKeyboardResponse({
      callback_function: (info) => {
        const index = keys.findIndex((key) => jsPsych.pluginAPI.compareKeys(key, info.key));
        if (index >= 0) finish(keyValue(index), listening + info.rt, "key");
      },
      valid_responses: keys,
      rt_method: "performance",
      persist: true,
      allow_held_key: false,
    });
  }

  /** Put `screen` up and take one answer (listenOnce). The onset is the first frame painted with the
   * screen; until then a key or touch cannot be an answer to it and is ignored. `data-shown` marks that
   * frame for the page and the browser tests. The offset is the first frame painted without it. */
  function answerOnce(jsPsych, display, screen, { buttons, keys, keyValue, toData, frameMs }) {
    let onset = null;
    let done = false;
    let imagePx = null;
    const dropped = frameMs ? { count: 0, last: null } : null;
    const countFrames = (t) => { // every frame while the screen is up: a long interval is a dropped frame
      if (done) return;
      if (dropped.last !== null) dropped.count += Math.max(0, Math.round((t - dropped.last) / frameMs) - 1);
      dropped.last = t;
      requestAnimationFrame(countFrames);
    };
    display.replaceChildren(screen);
    requestAnimationFrame((t) => {
      onset = t;
      screen.dataset.shown = "true";
      const image = screen.querySelector("img");
      imagePx = image ? image.getBoundingClientRect().width : null;
      if (dropped) countFrames(t);
    });
    listenOnce(jsPsych, display, {
      buttons, keys, keyValue,
      ready: () => onset !== null,
      answered: (value, when, source) => {
        done = true;
        requestAnimationFrame((offset) => jsPsych.finishTrial({
          ...toData(value), rt: Math.max(0, when - onset), onset_ms: onset, offset_ms: offset,
          response_ms: when, response_source: source, unavailable: false, failed_images: [],
          image_px: imagePx, dropped_frames: dropped ? dropped.count : null,
        }));
      },
    });
  }

  /** One image trial: once every image at `urls` has decoded, `build(images)` makes the screen and says
   * how it is answered ({ root, buttons, keys, keyValue }, as answerOnce takes them), and the answer is
   * recorded as `field`. If an image never loads, the trial ends unshown (unavailableData). */
  function imageTrial(jsPsych, display, trial, { urls, field, build }) {
    imagesLoad(urls, trial).then((images) => {
      const { root, ...answering } = build(images);
      answerOnce(jsPsych, display, root,
        { ...answering, toData: (value) => ({ [field]: value }), frameMs: trial.frame_ms });
    }, (failed) => jsPsych.finishTrial(unavailableData(failed, [field])));
  }

  return { fields, imagePluginInfo, el, imagesLoad, unavailableData, listenOnce, imageTrial };
})(jsPsychModule);
