/* A jsPsych 8 plugin for timed presentation (Feather et al.; science.md section 2): a fixation cross,
 * the image, a noise mask, each for a set duration, then a grid of K category buttons with no
 * deadline.
 *
 * Durations are locked to screen refreshes: every change is made inside a requestAnimationFrame
 * callback, whose timestamp is the frame that will show it, and a screen is replaced at the first
 * frame at which its duration has elapsed (to within half a refresh). jsPsych's own plugins end
 * stimuli with setTimeout, which drifts off the frame grid by up to a refresh. The measured onset
 * and offset of every screen go back with the response, so the real durations are on record.
 * The response time runs from the measured stimulus onset. */
var IrisTimedPlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const MASK_CELLS = 32; // the noise mask: a 32 x 32 grid of random grey levels, scaled up
  const info = {
    name: "iris-timed",
    version: "1.0.0",
    parameters: {
      stimulus: { type: P.STRING, default: null },
      labels: { type: P.STRING, array: true, default: [] },
      prompt: { type: P.HTML_STRING, default: "" },
      fixation_ms: { type: P.INT, default: 300 },
      stimulus_ms: { type: P.INT, default: 300 },
      mask_ms: { type: P.INT, default: 300 },
    },
    data: {
      choice: { type: P.INT },
      rt: { type: P.FLOAT },
      onset_ms: { type: P.FLOAT },
      offset_ms: { type: P.FLOAT },
      fixation_onset_ms: { type: P.FLOAT },
      mask_offset_ms: { type: P.FLOAT },
      grid_onset_ms: { type: P.FLOAT },
      response_ms: { type: P.FLOAT },
      response_source: { type: P.STRING },
      frame_ms: { type: P.FLOAT },
    },
  };

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

  class IrisTimedPlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      const grid = trial.labels.map((label, i) =>
        `<button type="button" class="iris-category" data-choice="${i}">${label}</button>`).join("");
      display_element.innerHTML =
        `<div class="iris-trial iris-timed" data-mode="timed">` +
        `<div class="iris-stage"><div class="iris-fixation">+</div>` +
        `<img class="iris-flash" src="${trial.stimulus}" alt="" draggable="false">` +
        `<canvas class="iris-mask"></canvas></div>` +
        `<div class="iris-response" hidden><p class="iris-prompt">${trial.prompt}</p>` +
        `<div class="iris-categories">${grid}</div></div></div>`;
      const stage = display_element.querySelector(".iris-stage");
      const show = (part) => { stage.dataset.show = part; };
      drawMask(display_element.querySelector(".iris-mask"));

      const times = {};
      let frame = 1000 / 60;
      let last = null;
      const tick = (t) => { if (last !== null && t > last) frame = Math.min(frame, t - last); last = t; };
      // Each step waits for the frame at which the current screen has been up long enough, then swaps.
      const after = (since, duration, then) => {
        const check = (t) => {
          tick(t);
          if (t - since >= duration - frame / 2) then(t);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      };
      const start = (t0) => {
        tick(t0);
        show("fixation"); times.fixation_onset_ms = t0;
        after(t0, trial.fixation_ms, (t1) => {
          show("stimulus"); times.onset_ms = t1;
          after(t1, trial.stimulus_ms, (t2) => {
            show("mask"); times.offset_ms = t2;
            after(t2, trial.mask_ms, (t3) => {
              show("none"); times.mask_offset_ms = t3;
              stage.style.display = "none"; // the grid takes the stage's place (phones have no room for both)
              display_element.querySelector(".iris-response").hidden = false;
              times.grid_onset_ms = t3;
              listen();
            });
          });
        });
      };

      let done = false;
      const listen = () => {
        display_element.querySelectorAll(".iris-category").forEach((button) => {
          button.addEventListener("pointerup", (event) => {
            if (done) return;
            done = true;
            display_element.innerHTML = "";
            this.jsPsych.finishTrial({
              ...times,
              choice: Number(button.dataset.choice),
              rt: Math.max(0, event.timeStamp - times.onset_ms),
              response_ms: event.timeStamp,
              response_source: event.pointerType || "mouse",
              frame_ms: frame,
            });
          });
        });
      };
      // The image is decoded before the fixation starts, so it appears on the frame it is asked for.
      const flash = display_element.querySelector(".iris-flash");
      show("none");
      flash.decode().catch(() => null).then(() => requestAnimationFrame(start));
    }
  }
  IrisTimedPlugin.info = info;
  return IrisTimedPlugin;
})(jsPsychModule);
