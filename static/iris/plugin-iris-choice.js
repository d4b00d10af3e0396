/* A jsPsych 8 plugin: an optional query image above N option images; the participant picks one option
 * by click, touch or key (F/J for two options, 1..N for more). 2AFC and matching use it.
 *
 * The screen appears only once every image has decoded (IrisScreen). The onset is the first frame
 * painted with the images (requestAnimationFrame), not when the DOM changed; the offset is the first
 * frame painted after they are removed; the response time runs from the measured onset. It records
 * positions only: it never knows which option is right. Needs iris-screen.js. */
var IrisChoicePlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const { el } = IrisScreen;

  const info = IrisScreen.imagePluginInfo({
    name: "iris-choice",
    version: "3.0.0",
    parameters: {
      /** The image to compare the options with, shown above them; null for none. */
      query: { type: P.IMAGE, default: null, preload: false },
      /** The option images, left to right. */
      options: { type: P.IMAGE, array: true, default: undefined, preload: false },
      /** A line of text between the query and the options (text, never markup). */
      prompt: { type: P.STRING, default: "" },
      /** The key for each option; null: F and J for two options, 1..N for more. */
      keys: { type: P.KEYS, default: null },
      /** What a screen reader says for each option (text); {n} is its number, 1 = left. */
      option_label: { type: P.STRING, default: "Option {n}" },
    },
    data: {
      /** The index of the chosen option (0 = left). */
      choice: { type: P.INT },
    },
  });

  function defaultKeys(count) {
    return count === 2 ? ["f", "j"] : Array.from({ length: count }, (_, i) => String(i + 1));
  }

  function screen(trial, query, options, keys) {
    const buttons = options.map((image, i) => el("button",
      { type: "button", class: "iris-option", "data-choice": i, "aria-label": trial.option_label.replace("{n}", i + 1) },
      image, el("span", { class: "iris-key" }, keys[i].toUpperCase())));
    const optionsBox = el("div", { class: trial.options.length > 2 ? "iris-options many" : "iris-options" }, ...buttons);
    const parts = [el("p", { class: "iris-prompt" }, trial.prompt), optionsBox];
    if (query) parts.unshift(el("div", { class: "iris-query" }, query));
    return { root: el("div", { class: "iris-trial", "data-mode": "choice" }, ...parts), buttons };
  }

  class IrisChoicePlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      const keys = trial.keys || defaultKeys(trial.options.length);
      const urls = trial.query ? [trial.query, ...trial.options] : trial.options;
      IrisScreen.imageTrial(this.jsPsych, display_element, trial, { urls, field: "choice",
        build: (images) => {
          const query = trial.query ? images.shift() : null;
          const { root, buttons } = screen(trial, query, images, keys);
          return { root, buttons: buttons.map((button, i) => [button, i]), keys: keys.slice(0, trial.options.length),
            keyValue: (i) => i };
        } });
    }
  }
  IrisChoicePlugin.info = info;
  return IrisChoicePlugin;
})(jsPsychModule);
