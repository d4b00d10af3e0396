/* A jsPsych 8 plugin: the study's questions before or after the trials (surveys/studies/questions.py),
 * as one form. Four kinds: choice (radio buttons), number (a number field within min/max), text (a
 * text box of at most max_length characters) and scale (radio buttons 1..points, labelled at the ends).
 *
 * The researcher's prompts and options go in as text nodes (IrisScreen.el), never as markup: jsPsych's
 * own survey plugins build their screens from HTML strings. The browser's form checks (required,
 * min, max, maxlength) catch most slips; the server checks every answer again. Needs iris-screen.js. */
var IrisQuestionsPlugin = (function (jspsych) {
  "use strict";
  const P = jspsych.ParameterType;
  const { el } = IrisScreen;

  const info = {
    name: "iris-questions",
    version: "1.0.0",
    parameters: {
      /** The questions, as the server sends them (Question.to_dict). */
      questions: { type: P.OBJECT, array: true, default: [] },
      /** A line above the form (text), e.g. the server's refusal of the last try. */
      error: { type: P.STRING, default: "" },
      button_label: { type: P.STRING, default: "Continue" },
      /** After the prompt of a question that may be left unanswered (text). */
      optional_label: { type: P.STRING, default: "(optional)" },
    },
    data: {
      /** {question id: answer}; an unanswered optional question is left out. */
      answers: { type: P.OBJECT },
    },
  };

  const name = (question) => `q-${question.id}`;

  function radios(question, values, labels) {
    return values.map((value, i) => el("label", { class: "iris-question-option" },
      el("input", { type: "radio", name: name(question), value: value, ...(question.required ? { required: "" } : {}) }),
      ` ${labels[i]}`));
  }

  function field(question) {
    const required = question.required ? { required: "" } : {};
    if (question.kind === "choice") return radios(question, question.options, question.options);
    if (question.kind === "scale") {
      const points = Array.from({ length: question.points }, (_, i) => String(i + 1));
      const labels = points.map((point, i) => (i === 0 && question.low_label ? `${point} = ${question.low_label}`
        : i === points.length - 1 && question.high_label ? `${point} = ${question.high_label}` : point));
      return radios(question, points, labels);
    }
    if (question.kind === "number") {
      const bounds = { ...(question.min !== null ? { min: question.min } : {}), ...(question.max !== null ? { max: question.max } : {}) };
      return [el("input", { type: "number", step: "any", name: name(question), id: name(question), ...bounds, ...required })];
    }
    return [el("textarea", { name: name(question), id: name(question), maxlength: question.max_length, rows: 3, ...required })];
  }

  function valueOf(form, question) {
    const value = new FormData(form).get(name(question));
    if (value === null || value === "") return null;
    if (question.kind === "number") return Number(value);
    if (question.kind === "scale") return parseInt(value, 10);
    return value;
  }

  class IrisQuestionsPlugin {
    constructor(jsPsych) {
      this.jsPsych = jsPsych;
    }

    trial(display_element, trial) {
      const form = el("form", { class: "iris-questions" },
        ...(trial.error ? [el("p", { class: "iris-questions-error", role: "alert" }, trial.error)] : []),
        ...trial.questions.map((question) => el("fieldset", { class: "iris-question", "data-question": question.id },
          el("legend", {}, question.prompt + (question.required ? "" : ` ${trial.optional_label}`)), ...field(question))),
        el("button", { type: "submit", class: "iris-button", id: "iris-questions-submit" }, trial.button_label));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const answers = {};
        for (const question of trial.questions) {
          const value = valueOf(form, question);
          if (value !== null) answers[question.id] = value;
        }
        display_element.replaceChildren();
        this.jsPsych.finishTrial({ answers });
      });
      display_element.replaceChildren(form);
    }
  }
  IrisQuestionsPlugin.info = info;
  return IrisQuestionsPlugin;
})(jsPsychModule);
