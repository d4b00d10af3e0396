/* A jsPsych 8 plugin: two images side by side and a 1-7 similarity scale, answered by button (click,
 * touch) or key 1-7. The similarity paradigm uses it.
 *
 * The screen appears only once both images have decoded (IrisScreen); onset, offset and response
 * time are measured as in the choice plugin. Needs iris-screen.js. */
var IrisRatingPlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const { el } = IrisScreen;
  const POINTS = 7;

  const info = IrisScreen.imagePluginInfo({
    name: "iris-rating",
    version: "1.0.0",
    parameters: {
      /** The two images to compare, left and right. */
      images: { type: P.IMAGE, array: true, default: undefined, preload: false },
      /** A line of text between the images and the scale (text, never markup). */
      prompt: { type: P.STRING, default: "" },
      /** What the two ends of the scale mean: [1, 7]. */
      scale_labels: { type: P.STRING, array: true, default: ["very different", "identical"] },
    },
    data: {
      /** 1 (very different) to 7 (identical). */
      rating: { type: P.INT },
    },
  });
  const KEYS = Array.from({ length: POINTS }, (_, i) => String(i + 1));

  function screen(trial, images) {
    const buttons = KEYS.map((key) => el("button", { type: "button", class: "iris-rating", "data-rating": key }, key));
    const [low, high] = trial.scale_labels;
    const root = el("div", { class: "iris-trial", "data-mode": "rating" },
      el("div", { class: "iris-pair" }, ...images.map((image) => el("div", { class: "iris-pair-image" }, image))),
      el("p", { class: "iris-prompt" }, trial.prompt),
      el("div", { class: "iris-scale" }, ...buttons),
      el("div", { class: "iris-scale-labels" }, el("span", {}, `1 = ${low}`), el("span", {}, `${POINTS} = ${high}`)));
    return { root, buttons };
  }

  class IrisRatingPlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      IrisScreen.imageTrial(this.jsPsych, display_element, trial, { urls: trial.images, field: "rating",
        build: (images) => {
          const { root, buttons } = screen(trial, images);
          return { root, buttons: buttons.map((button, i) => [button, i + 1]), keys: KEYS, keyValue: (i) => i + 1 };
        } });
    }
  }
  IrisRatingPlugin.info = info;
  return IrisRatingPlugin;
})(jsPsychModule);
