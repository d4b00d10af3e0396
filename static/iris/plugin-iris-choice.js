/* A jsPsych 8 plugin for untimed trials, in two modes:
 *  - "choice": an optional query image above N option images; the participant picks one option by
 *    click, touch or key (F/J for two options, 1..N for more) — 2AFC and matching;
 *  - "rating": two images side by side and a 1-7 scale (buttons or keys 1-7) — similarity.
 * The stimulus onset is the first animation frame painted with the images in place
 * (requestAnimationFrame), not when the DOM was changed; the offset is the first frame painted after
 * they are removed. The response time runs from the measured onset. It records positions only: it
 * never knows which option is correct. */
var IrisChoicePlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const RATING_POINTS = 7;
  const info = {
    name: "iris-choice",
    version: "2.0.0",
    parameters: {
      mode: { type: P.STRING, default: "choice" },
      query: { type: P.STRING, default: null },
      options: { type: P.STRING, array: true, default: [] },
      prompt: { type: P.HTML_STRING, default: "" },
      keys: { type: P.KEYS, default: null },
      scale_labels: { type: P.STRING, array: true, default: ["very different", "identical"] },
    },
    data: {
      choice: { type: P.INT },
      rating: { type: P.INT },
      rt: { type: P.FLOAT },
      onset_ms: { type: P.FLOAT },
      offset_ms: { type: P.FLOAT },
      response_ms: { type: P.FLOAT },
      response_source: { type: P.STRING },
    },
  };

  function defaultKeys(mode, count) {
    if (mode === "rating") return Array.from({ length: RATING_POINTS }, (_, i) => String(i + 1));
    return count === 2 ? ["f", "j"] : Array.from({ length: count }, (_, i) => String(i + 1));
  }

  function image(url) {
    return `<img src="${url}" alt="" draggable="false">`;
  }

  function choiceHtml(trial, keys) {
    const options = trial.options.map((url, i) =>
      `<button type="button" class="iris-option" data-choice="${i}" aria-label="Option ${i + 1}">` +
      `${image(url)}<span class="iris-key">${keys[i].toUpperCase()}</span></button>`).join("");
    return `<div class="iris-trial" data-mode="choice">` +
      (trial.query ? `<div class="iris-query">${image(trial.query)}</div>` : "") +
      `<p class="iris-prompt">${trial.prompt}</p>` +
      `<div class="iris-options${trial.options.length > 2 ? " many" : ""}">${options}</div></div>`;
  }

  function ratingHtml(trial) {
    const pair = trial.options.map((url) => `<div class="iris-pair-image">${image(url)}</div>`).join("");
    const points = Array.from({ length: RATING_POINTS }, (_, i) =>
      `<button type="button" class="iris-rating" data-rating="${i + 1}">${i + 1}</button>`).join("");
    return `<div class="iris-trial" data-mode="rating"><div class="iris-pair">${pair}</div>` +
      `<p class="iris-prompt">${trial.prompt}</p><div class="iris-scale">${points}</div>` +
      `<div class="iris-scale-labels"><span>1 = ${trial.scale_labels[0]}</span>` +
      `<span>${RATING_POINTS} = ${trial.scale_labels[1]}</span></div></div>`;
  }

  class IrisChoicePlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      const rating = trial.mode === "rating";
      const keys = trial.keys || defaultKeys(trial.mode, trial.options.length);
      display_element.innerHTML = rating ? ratingHtml(trial) : choiceHtml(trial, keys);

      let onset = null;
      let done = false;
      // The first frame callback after the change marks the frame that shows it. Until then a key or
      // touch cannot be a response to the images, so it is ignored; `data-shown` tells the page (and
      // the browser tests) that answers count from here on.
      const screen = display_element.querySelector(".iris-trial");
      requestAnimationFrame((t) => { onset = t; screen.dataset.shown = "true"; });

      const finish = (value, when, source) => {
        if (done || onset === null) return;
        done = true;
        this.jsPsych.pluginAPI.cancelAllKeyboardResponses();
        display_element.innerHTML = "";
        // The frame without the images is the measured offset.
        requestAnimationFrame((offset) => {
          this.jsPsych.finishTrial({
            choice: rating ? null : value,
            rating: rating ? value : null,
            rt: Math.max(0, when - onset),
            onset_ms: onset,
            offset_ms: offset,
            response_ms: when,
            response_source: source,
          });
        });
      };

      const selector = rating ? ".iris-rating" : ".iris-option";
      display_element.querySelectorAll(selector).forEach((button) => {
        button.addEventListener("pointerup", (event) => {
          const value = Number(rating ? button.dataset.rating : button.dataset.choice);
          finish(value, event.timeStamp, event.pointerType || "mouse");
        });
      });
      const count = rating ? RATING_POINTS : trial.options.length;
      // jsPsych times keys from when listening starts (performance clock); this puts them on that clock.
      const listening = performance.now();
      this.jsPsych.pluginAPI.getKeyboardResponse({
        callback_function: (info) => {
          const index = keys.findIndex((k) => this.jsPsych.pluginAPI.compareKeys(k, info.key));
          if (index >= 0) finish(rating ? index + 1 : index, listening + info.rt, "key");
        },
        valid_responses: keys.slice(0, count),
        rt_method: "performance",
        persist: true,
        allow_held_key: false,
      });
    }
  }
  IrisChoicePlugin.info = info;
  return IrisChoicePlugin;
})(jsPsychModule);
