/* The participant's trial runner. The server drives: this page fetches the next few trials
 * (image URLs and positions only), shows each with the plugin for its screen kind, and posts each
 * answer at once through the outbox (outbox.js), so nothing is lost offline or on reload.
 * The page never knows which option is right; practice feedback comes from the server after the
 * answer is stored.
 *
 * A trial whose images never load is not answered: if the connection or an overloaded server is to
 * blame it is shown again later; if the image itself is broken the server is told the trial was not
 * shown (it is then left out of the session and of every score) and the study goes on. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("iris-config").textContent);
  // Every word shown, in the study's language (surveys/trials/runner_text.py): plain text, escaped
  // where jsPsych's plugins take HTML.
  const text = config.text;
  const escapeHtml = (plain) => String(plain).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const para = (plain) => `<p>${escapeHtml(plain)}</p>`;
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const FEEDBACK_MS = 1200;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setStatus(text) {
    const status = document.getElementById("iris-status");
    if (status) status.textContent = text;
  }

  const waitMessage = (response) => setStatus(response && (response.status === 429 || response.status === 503)
    ? text.busy : text.offline);

  const outbox = new IrisOutbox.Outbox({
    storageKey: config.storageKey,
    headers: { "X-CSRFToken": csrfToken },
    legacyUrl: config.respondUrl,
    onWait: waitMessage,
    onSent: () => setStatus(""),
  });
  const send = (url, options) => IrisOutbox.sendWithRetry(url, options, waitMessage);

  /* Everything that changes as the session goes, in one place. */
  const session = {
    queue: [], // trials fetched and not yet shown
    current: null, // the trial on screen, or about to be
    settled: new Set(outbox.trials()), // trials answered (or found unshowable) on this page
    settledCount: config.answered, // for the progress bar, including earlier visits
    lastPhase: null, // the previous trial's phase: "the practice is over" shows once
    interactions: [], // focus, blur and fullscreen changes since the last answer
    answered: false, // whether the current trial got an answer (false: it could not be shown)
    reply: Promise.resolve({}), // the server's reply to the last answer, for practice feedback
    feedback: null, // that reply's verdict once it came: true, false or null
    display: null, // the refresh measured at the start (IrisPresentation.measureRefresh)
    viewing: config.viewing, // the calibration the server stored, with the images' width for it
  };
  const presentation = config.presentation || {};

  const jsPsych = initJsPsych({
    display_element: "iris-runner",
    show_progress_bar: true,
    auto_update_progress_bar: false,
    message_progress_bar: escapeHtml(text.progress),
    on_interaction_data_update: (event) => session.interactions.push(event),
  });
  const attention = new IrisPresentation.Attention({
    pauseOnLeave: presentation.pause_on_leave, fullscreen: config.fullscreen, jsPsych, text,
  });

  function preload(trial) {
    // Warms the browser's cache for the next trial; the plugin itself waits for (and retries) the images.
    for (const url of [trial.query, ...trial.options].filter(Boolean)) new Image().src = url;
  }

  function leaveFor(url) {
    localStorage.removeItem(config.storageKey);
    window.location.assign(url || config.pageUrl);
  }

  async function refill() {
    // The next few open trials (MAX_TRIALS_AHEAD on the server): one fetch every six or so answers.
    const response = await send(`${config.trialsUrl}?n=8`, { method: "GET" });
    const body = await response.json().catch(() => ({}));
    if (response.status === 409 && body.next) {
      // The session ended on the server (gate failed, timed out): every answer is already sent.
      await outbox.flush();
      leaveFor(body.next);
      return new Promise(() => {}); // the page is going away
    }
    if (!response.ok) throw new Error(`trials: ${response.status}`);
    const held = new Set(session.queue.map((trial) => trial.id));
    for (const trial of body.trials) {
      if (!held.has(trial.id) && !session.settled.has(trial.id)) session.queue.push(trial);
    }
  }

  function showProgress() {
    // jsPsych builds its progress bar when the run starts; trials only come after that.
    if (jsPsych.progressBar) {
      jsPsych.progressBar.progress = config.total ? Math.min(session.settledCount / config.total, 1) : 1;
    }
  }

  async function nextTrial() {
    showProgress();
    if (session.queue.length < 2) await refill();
    // Nothing more is served before the answers in flight are stored (the gate decides on them).
    if (!session.queue.length && outbox.items.length) { await outbox.flush(); await refill(); }
    session.current = session.queue.shift() || null;
    if (session.current) preload(session.current);
    if (session.queue.length) preload(session.queue[0]);
  }

  function settle(trial) {
    session.settled.add(trial.id);
    session.settledCount += 1;
    showProgress();
  }

  function record(data) {
    const trial = session.current;
    settle(trial);
    session.answered = true;
    session.reply = outbox.add(config.respondUrl, trial.id, {
      trial: trial.id,
      idempotency_key: trial.id,
      choice: data.choice,
      rating: data.rating,
      rt_ms: data.rt,
      client_data: {
        onset_ms: data.onset_ms, offset_ms: data.offset_ms, response_ms: data.response_ms,
        fixation_onset_ms: data.fixation_onset_ms, mask_offset_ms: data.mask_offset_ms,
        grid_onset_ms: data.grid_onset_ms, frame_ms: data.frame_ms,
        stimulus_longest_frame_ms: data.stimulus_longest_frame_ms, source: data.response_source,
        window: `${window.innerWidth}x${window.innerHeight}`, interactions: session.interactions,
        ...presentationData(data), ...attention.trialMarks(),
      },
    });
    session.interactions = [];
  }

  /** What the response records about how the trial was shown: frames, sizes, whether sizing fell back. */
  function presentationData(data) {
    const sizedPx = session.viewing && session.viewing.stimulus_px;
    return {
      fixation_frames: data.fixation_frames, stimulus_frames: data.stimulus_frames, mask_frames: data.mask_frames,
      stimulus_frames_ms: data.stimulus_frames_ms, dropped_frames: data.dropped_frames, image_px: data.image_px,
      refresh_hz: session.display && session.display.refresh_hz,
      px_per_deg: session.viewing && session.viewing.px_per_deg,
      // The study asked for degrees of visual angle but this participant has no usable calibration.
      size_fallback: Boolean(presentation.stimulus_deg) && !sizedPx,
    };
  }

  /** After an image failed every try: ms to wait before showing the trial again when the connection
   * or the server's load is to blame, or null when the server answered and the image is broken. */
  async function imageLaterMs(url, attempt) {
    let response = null;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    } catch (networkError) {
      /* no reply: the connection */
    }
    return IrisOutbox.laterMs(response, attempt, { serverErrors: false });
  }

  async function notShown(data) {
    const trial = session.current;
    session.answered = false;
    trial.tries = (trial.tries || 0) + 1;
    const later = await imageLaterMs(data.failed_images[0], trial.tries - 1);
    if (later !== null) {
      setStatus(text.loading);
      await sleep(later);
      setStatus("");
      trial.break_before = false; // the break was already taken
      session.queue.unshift(trial);
      return;
    }
    settle(trial);
    const url = `${config.trialsUrl}/${encodeURIComponent(trial.id)}/unavailable`;
    outbox.add(url, trial.id, { trial: trial.id });
  }

  const afterTrial = (data) => (data.unavailable ? notShown(data) : record(data));

  async function finishStudy() {
    setStatus(text.saving);
    await outbox.flush();
    const response = await send(config.finishUrl, { method: "POST", headers: { "X-CSRFToken": csrfToken } });
    const body = await response.json();
    leaveFor(body.next);
  }

  const fitsWindow = (data) => data.width >= config.minWidth && data.height >= config.minHeight;
  const refusalOf = (data) => (fitsWindow(data) ? IrisPresentation.refusal(presentation, session.display, data) : "window");

  async function reportDevice(data) {
    const refused = refusalOf(data);
    const compatible = refused === null;
    const response = await send(config.deviceUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ compatible: compatible, data: { ...data, ...session.display, refused } }),
    });
    if (!compatible) leaveFor((await response.json()).next);
    return compatible;
  }

  // The markup below is fixed text of this file around escaped words of the catalogue: the only markup
  // handed to jsPsych's own plugins, besides the researcher's instructions (Markdown sanitised by the
  // server: surveys/studies/richtext.py). Button labels are escaped too (jsPsych writes them as HTML).
  const message = (html, button, extra) => ({
    type: jsPsychHtmlButtonResponse, stimulus: `<div class="iris-message">${html}</div>`,
    choices: [escapeHtml(button)], ...extra,
  });
  const FEEDBACK = {
    true: `<p class="iris-feedback good">${escapeHtml(text.right)}</p>`,
    false: `<p class="iris-feedback bad">${escapeHtml(text.wrong)}</p>`,
    null: `<p class="iris-feedback">${escapeHtml(text.thanks)}</p>`,
  };
  /** `plain` escaped, each {name} in it replaced by the markup fills[name]. */
  const fill = (plain, fills) => escapeHtml(plain).replace(/\{(\w+)\}/g, (whole, name) => fills[name] ?? whole);

  const browserCheck = {
    type: jsPsychBrowserCheck,
    features: ["width", "height", "browser", "browser_version", "mobile", "os", "fullscreen", "vsync_rate"],
    vsync_frame_count: 30,
    minimum_width: config.minWidth,
    minimum_height: config.minHeight,
    // jsPsych fills these spans with the sizes.
    window_resize_message: `<p>${fill(text.window_small, {
      min_width: '<span id="browser-check-min-width"></span>', min_height: '<span id="browser-check-min-height"></span>',
      width: '<span id="browser-check-actual-width"></span>', height: '<span id="browser-check-actual-height"></span>',
    })}</p>`,
    resize_fail_button_text: escapeHtml(text.window_cannot_grow),
    inclusion_function: (data) => refusalOf(data) === null,
    exclusion_message: (data) => para(text.refusals[refusalOf(data)]),
    on_finish: (data) => { session.check = data; reportDevice(data); },
  };
  const measureDisplay = {
    type: jsPsychCallFunction, async: true,
    func: (done) => IrisPresentation.measureRefresh(60).then((display) => { session.display = display; done(); }),
  };
  const calibration = viewingSteps();
  const fullscreen = {
    type: jsPsychFullscreen, fullscreen_mode: true, message: para(text.fullscreen),
    button_label: escapeHtml(text.fullscreen_button),
  };
  const instructions = {
    type: jsPsychInstructions,
    pages: [`<div class="iris-instructions">${config.instructionsHtml}</div>`],
    show_clickable_nav: true,
    button_label_next: escapeHtml(text.start),
    button_label_previous: escapeHtml(text.previous),
  };
  const fetchNext = { type: jsPsychCallFunction, async: true, func: (done) => { nextTrial().then(() => done()); } };
  const breakScreen = message(para(text.break) + para(text.break_ready), text.continue);
  const phaseNotice = message(para(text.practice_over), text.continue);
  /** The virtual chinrest, when the study calibrates and this participant has not yet: a card at
   * hand or not, then card size and blind-spot distance; the server stores them and answers with the
   * images' width. Without calibration images keep their window-based size (and responses say so). */
  function viewingSteps() {
    const store = async (viewing) => {
      const response = await send(config.viewingUrl, {
        method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify(viewing),
      });
      session.viewing = await response.json();
      IrisPresentation.sizeImages(session.viewing.stimulus_px);
    };
    const storeStep = (viewing) => ({
      type: jsPsychCallFunction, async: true, func: (done) => { store(viewing()).then(() => done()); },
    });
    let chinrest = null;
    const hasCard = message(para(text.card_needed), text.card_yes,
      { choices: [text.card_yes, text.card_no].map(escapeHtml) });
    const steps = [text.blindspot_hand, text.blindspot_eye, text.blindspot_focus, text.blindspot_ball];
    const measure = {
      type: jsPsychVirtualChinrest, blindspot_reps: 3, resize_units: "none", viewing_distance_report: "none",
      adjustment_prompt: [text.card_resize, text.card_any, text.card_ruler].map(para).join(""),
      adjustment_button_prompt: escapeHtml(text.card_done),
      blindspot_prompt: para(text.blindspot_intro) +
        `<ol class="iris-steps">${steps.map((step) => `<li>${escapeHtml(step)}</li>`).join("")}</ol>` +
        para(text.blindspot_ready),
      blindspot_measurements_prompt: `${escapeHtml(text.blindspot_remaining)} `,
      blindspot_done_prompt: escapeHtml(text.blindspot_yes),
      on_finish: (data) => { chinrest = data; },
    };
    const hadCard = () => jsPsych.data.getLastTrialData().values()[0].response === 0;
    // Phones, touch-first tablets and windows narrower than the chinrest's page cannot do it (see
    // canCalibrate): they get the fallback size (and the flag) rather than a task they cannot finish.
    return [
      { timeline: [hasCard, { timeline: [measure], conditional_function: hadCard }],
        conditional_function: () => IrisPresentation.canCalibrate(session.check || {}) },
      storeStep(() => (chinrest ? IrisPresentation.viewingFromChinrest(chinrest) : { skipped: true })),
    ];
  }
  const timing = config.timing || {};
  const frameMs = () => (session.display ? session.display.frame_ms : null);
  const current = () => session.current;
  // One plugin per screen kind; the server says which kind each trial is.
  const screens = {
    choice: {
      type: IrisChoicePlugin, query: () => current().query, options: () => current().options, frame_ms: frameMs,
      option_label: text.option,
    },
    rating: { type: IrisRatingPlugin, images: () => current().options, scale_labels: config.scaleLabels, frame_ms: frameMs },
    timed: {
      type: IrisTimedPlugin, stimulus: () => current().query, labels: () => current().labels, frame_ms: frameMs,
      // A duration the study leaves unset takes the plugin's default (Feather's 300 ms).
      fixation_ms: timing.fixation_ms ?? undefined,
      stimulus_ms: timing.stimulus_ms ?? undefined,
      mask_ms: timing.mask_ms ?? undefined,
    },
  };
  const feedback = {
    type: jsPsychHtmlButtonResponse, stimulus: () => `<div class="iris-message">${FEEDBACK[session.feedback]}</div>`,
    choices: [], trial_duration: FEEDBACK_MS,
  };
  const fetchFeedback = {
    type: jsPsychCallFunction, async: true,
    func: (done) => {
      session.reply.then((reply) => {
        const verdict = reply && reply.feedback && reply.feedback.correct;
        session.feedback = typeof verdict === "boolean" ? verdict : null;
        done();
      });
    },
  };
  const when = (test, timeline) => ({ timeline: timeline, conditional_function: test });
  const trialScreens = {
    timeline: [
      when(() => current().break_before, [breakScreen]),
      when(() => session.lastPhase === "practice" && current().phase !== "practice", [phaseNotice]),
      { type: jsPsychCallFunction, func: () => { session.lastPhase = current().phase; } },
      ...Object.entries(screens).map(([kind, screen]) => when(() => current().presentation === kind,
        [{ ...screen, prompt: config.prompt, on_start: () => attention.trialStart(), on_finish: afterTrial }])),
      when(() => current().phase === "practice" && session.answered, [fetchFeedback, feedback]),
    ],
    conditional_function: () => current() !== null,
  };
  const trialLoop = {
    timeline: [fetchNext, trialScreens], loop_function: () => current() !== null,
    on_timeline_start: () => { attention.armed = true; }, // leaving pauses the study from here on
  };
  const finish = { type: jsPsychCallFunction, async: true, func: (done) => { finishStudy().then(() => done()); } };

  /** One phase's questions ("before" or "after"): shown again, with the server's reason, until the
   * server has stored the answers. None configured (or already stored): nothing is shown. */
  function questionSteps(phase, questions) {
    const state = { error: "", stored: false, answers: {} };
    const ask = {
      type: IrisQuestionsPlugin, questions: questions, error: () => state.error,
      button_label: text.continue, optional_label: text.optional,
      on_finish: (data) => { state.answers = data.answers; },
    };
    const store = {
      type: jsPsychCallFunction, async: true,
      func: (done) => {
        send(config.answersUrl, {
          method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          body: JSON.stringify({ phase: phase, answers: state.answers }),
        }).then(async (response) => {
          if (response.status === 409) leaveFor(config.pageUrl); // the session ended meanwhile
          state.stored = response.ok;
          state.error = response.ok ? "" : (await response.json()).error;
          done();
        });
      },
    };
    return questions.length ? [{ timeline: [ask, store], loop_function: () => !state.stored }] : [];
  }

  outbox.flush();
  const fresh = config.answered === 0 && !outbox.items.length;
  if (session.viewing) IrisPresentation.sizeImages(session.viewing.stimulus_px);
  jsPsych.run([
    measureDisplay,
    browserCheck,
    ...(config.fullscreen ? [fullscreen] : []),
    ...(presentation.calibrate && !session.viewing ? calibration : []),
    ...questionSteps("before", config.questionsBefore),
    ...(fresh ? [instructions] : []),
    trialLoop,
    ...questionSteps("after", config.questionsAfter),
    finish,
  ]);
})();
