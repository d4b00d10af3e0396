/* A jsPsych 8 plugin for timed presentation (Feather et al.; docs/method.md §2): a fixation
 * cross, the image, a noise mask, each for a set duration, then a grid of K category buttons with no
 * deadline, answered by click, touch or key (1-9, 0, then a-z; each button shows its key). The
 * classification paradigm uses it.
 *
 * Durations are whole frames of the display: each is rounded to the nearest whole number of the
 * measured refresh period (at least one frame for the image), and both the frames and what they come
 * to in ms are recorded. Every change is made inside a requestAnimationFrame callback, whose timestamp
 * is the frame that will show it, and a screen is replaced at the first frame at which its frames
 * have elapsed (to within half a refresh). jsPsych's own plugins end stimuli with setTimeout, which
 * drifts off the frame grid by up to a refresh. The measured onset and offset of every screen go back
 * with the response, with the frames dropped meanwhile (an interval of n refreshes is n - 1 dropped),
 * so the real durations are on record. The response time runs from the measured stimulus onset.
 * Nothing is shown before the image has decoded (IrisScreen). Needs iris-screen.js. */
var IrisTimedPlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const { el } = IrisScreen;
  const MASK_CELLS = 32; // the noise mask: a 32 x 32 grid of random grey levels, scaled up
  const MIN_FRAME_MS = 2; // shorter intervals are two frames run back to back, not a 500 Hz display
  const REFRESH_INTERVALS = 5; // frames measured before the fixation to know the refresh period

  const info = IrisScreen.imagePluginInfo({
    name: "iris-timed",
    version: "2.1.0",
    parameters: {
      /** The image flashed between the fixation cross and the mask. */
      stimulus: { type: P.IMAGE, default: undefined, preload: false },
      /** The category names on the response grid (text, never markup), in answer order. */
      labels: { type: P.STRING, array: true, default: undefined },
      /** A line of text above the grid (text, never markup). */
      prompt: { type: P.STRING, default: "" },
      fixation_ms: { type: P.INT, default: 300 },
      stimulus_ms: { type: P.INT, default: 300 },
      mask_ms: { type: P.INT, default: 300 },
      /** The key for each category, in `labels` order; null: 1-9, 0, then a-z. */
      keys: { type: P.KEYS, default: null },
    },
    data: {
      /** The index of the chosen category in `labels`. */
      choice: { type: P.INT },
      ...IrisScreen.fields(P.FLOAT, "fixation_onset_ms", "mask_offset_ms", "grid_onset_ms"),
      /** The display's refresh period, measured before the fixation: each screen stayed up until the
       * first frame at which its duration less half of this had passed. */
      frame_ms: { type: P.FLOAT },
      /** The longest wait between two frames while the image was up: a dropped frame shows here. */
      stimulus_longest_frame_ms: { type: P.FLOAT },
      /** Whole frames each screen was asked to stay up for (the durations rounded to the refresh). */
      ...IrisScreen.fields(P.INT, "fixation_frames", "stimulus_frames", "mask_frames"),
      /** What the stimulus frames come to: stimulus_frames x frame_ms. */
      stimulus_frames_ms: { type: P.FLOAT },
    },
  });

  function drawMask(canvas) {
    canvas.width = MASK_CELLS;
    canvas.height = MASK_CELLS;
    const context = canvas.getContext("2d");
    const pixels = context.createImageData(MASK_CELLS, MASK_CELLS);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const grey = Math.floor(Math.random() * 256);
      pixels.data[i] = grey; pixels.data[i + 1] = grey; pixels.data[i + 2] = grey; pixels.data[i + 3] = 255;
    }
    context.putImageData(pixels, 0, 0);
  }

  const KEY_ORDER = "1234567890abcdefghijklmnopqrstuvwxyz".split("");

  function screen(trial, flash, keys) {
    flash.className = "iris-flash";
    const mask = el("canvas", { class: "iris-mask" });
    drawMask(mask);
    const buttons = trial.labels.map((label, i) =>
      el("button", { type: "button", class: "iris-category", "data-choice": i }, el("span", { class: "iris-label" }, label),
        el("span", { class: "iris-key" }, String(keys[i]).toUpperCase())));
    const stage = el("div", { class: "iris-stage", "data-show": "none" }, el("div", { class: "iris-fixation" }, "+"), flash, mask);
    const response = el("div", { class: "iris-response", hidden: "" },
      el("p", { class: "iris-prompt" }, trial.prompt), el("div", { class: "iris-categories" }, ...buttons));
    return { root: el("div", { class: "iris-trial iris-timed", "data-mode": "timed" }, stage, response), stage, response, buttons };
  }

  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  /** The display's refresh period: the median interval between a few frames. A browser starved of CPU
   * may run two frames back to back, so intervals that short are no refresh period and not counted. */
  async function refreshPeriod() {
    const times = [];
    for (let i = 0; i <= REFRESH_INTERVALS; i += 1) times.push(await nextFrame());
    const intervals = times.slice(1).map((t, i) => t - times[i]).filter((ms) => ms >= MIN_FRAME_MS);
    intervals.sort((x, y) => x - y);
    return intervals.length ? intervals[Math.floor((intervals.length - 1) / 2)] : 1000 / 60;
  }

  /** The first frame at which `duration` less half a refresh has passed since `since`: its time, and
   * the longest wait between two frames meanwhile (a dropped frame keeps a screen up longer). Code run
   * right after the await still runs before that frame is painted. */
  async function frameAfter(since, duration, frame) {
    let previous = since;
    let longest = 0;
    let dropped = 0;
    for (;;) {
      const t = await nextFrame();
      longest = Math.max(longest, t - previous);
      dropped += Math.max(0, Math.round((t - previous) / frame) - 1);
      previous = t;
      if (t - since >= duration - frame / 2) return { t, longest, dropped };
    }
  }

  /** A duration in whole frames: the nearest number of refreshes (at least `least`). */
  const toFrames = (ms, frame, least) => Math.max(least, Math.round(ms / frame));

  class IrisTimedPlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      const keys = trial.keys || KEY_ORDER.slice(0, trial.labels.length);
      IrisScreen.imagesLoad([trial.stimulus], trial).then(
        ([flash]) => this.present(display_element, trial, { ...screen(trial, flash, keys), flash, keys }),
        (failed) => this.jsPsych.finishTrial(IrisScreen.unavailableData(failed, ["choice"])));
    }

    async present(display_element, trial, parts) {
      const { root, stage, response, buttons, flash, keys } = parts;
      display_element.replaceChildren(root);
      const frame = trial.frame_ms || await refreshPeriod(); // the stage is blank meanwhile
      // dropped_frames (IrisScreen.RESPONSE_DATA) here: frames lost while fixation, image and mask were up.
      const frames = { fixation_frames: toFrames(trial.fixation_ms, frame, 0),
        stimulus_frames: toFrames(trial.stimulus_ms, frame, 1), mask_frames: toFrames(trial.mask_ms, frame, 0) };
      const times = { ...frames, frame_ms: frame, stimulus_frames_ms: frames.stimulus_frames * frame };
      // A screen of 0 frames is skipped: the next one is put up in the same frame.
      const hold = (since, n) => (n ? frameAfter(since, n * frame, frame) : { t: since, longest: 0, dropped: 0 });
      const t0 = await nextFrame();
      stage.dataset.show = "fixation"; times.fixation_onset_ms = t0;
      const fixation = await hold(t0, frames.fixation_frames);
      stage.dataset.show = "stimulus"; times.onset_ms = fixation.t;
      times.image_px = flash.getBoundingClientRect().width;
      const image = await hold(fixation.t, frames.stimulus_frames);
      stage.dataset.show = "mask"; times.offset_ms = image.t;
      const mask = await hold(image.t, frames.mask_frames);
      const t3 = mask.t;
      stage.dataset.show = "none"; times.mask_offset_ms = t3;
      Object.assign(times, { stimulus_longest_frame_ms: image.longest,
        dropped_frames: fixation.dropped + image.dropped + mask.dropped });
      stage.hidden = true; // the grid takes the stage's place (phones have no room for both)
      response.hidden = false;
      times.grid_onset_ms = t3;
      root.dataset.shown = "true"; // answers count from here on
      this.listen(display_element, buttons, keys, times);
    }

    listen(display_element, buttons, keys, times) {
      IrisScreen.listenOnce(this.jsPsych, display_element, {
        buttons: buttons.map((button) => [button, Number(button.dataset.choice)]),
        keys,
        keyValue: (index) => index,
        answered: (choice, when, source) => this.jsPsych.finishTrial({
          ...times, choice, rt: Math.max(0, when - times.onset_ms), response_ms: when,
          response_source: source, unavailable: false, failed_images: [],
        }),
      });
    }
  }
  IrisTimedPlugin.info = info;
  return IrisTimedPlugin;
})(jsPsychModule);
