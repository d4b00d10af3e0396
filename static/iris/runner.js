/* The participant's trial runner. The server drives: this page fetches the next few trials
 * (image URLs and positions only), shows them with jsPsych, and posts each response at once through
 * an outbox kept in localStorage, retried with backoff, so nothing is lost offline or on reload.
 * The page never knows which option is right; practice feedback comes from the server after the
 * response is stored. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("iris-config").textContent);
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const MAX_BACKOFF_MS = 8000;
  const FEEDBACK_MS = 1200;

  async function sendWithRetry(url, options) {
    let delay = 300;
    for (;;) {
      try {
        const response = await fetch(url, { credentials: "same-origin", ...options });
        // Accepted, or refused for good (4xx): retrying cannot help. Overload and outages can.
        if (response.status < 500 && response.status !== 429 && response.status !== 408) return response;
      } catch (networkError) {
        /* offline: try again */
      }
      setStatus("Connection lost. Your answers are kept and will be sent when it returns…");
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }

  function setStatus(text) {
    const status = document.getElementById("iris-status");
    if (status) status.textContent = text;
  }

  class Outbox {
    constructor(storageKey) {
      this.key = storageKey;
      this.items = JSON.parse(localStorage.getItem(storageKey) || "[]");
      this.sending = null;
      this.waiting = new Map(); // trial id -> resolve(server reply), for practice feedback
    }
    save() { localStorage.setItem(this.key, JSON.stringify(this.items)); }
    add(item) {
      const reply = new Promise((resolve) => this.waiting.set(item.trial, resolve));
      this.items.push(item); this.save(); this.flush();
      return reply;
    }
    flush() {
      if (!this.sending) this.sending = this.drain().finally(() => { this.sending = null; });
      return this.sending;
    }
    async drain() {
      while (this.items.length) {
        const item = this.items[0];
        const response = await sendWithRetry(config.respondUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          body: JSON.stringify(item),
        });
        const reply = await response.json().catch(() => ({}));
        if (!response.ok) console.warn("IRIS: a response was refused", response.status, reply);
        this.items.shift();
        this.save();
        setStatus("");
        const resolve = this.waiting.get(item.trial);
        if (resolve) { this.waiting.delete(item.trial); resolve(reply); }
      }
    }
  }

  const outbox = new Outbox(config.storageKey);
  const answeredHere = new Set(outbox.items.map((item) => item.trial));
  let queue = [];
  let current = null;
  let lastPhase = null;
  let answered = config.answered;
  const total = config.total;
  let interactions = [];

  const jsPsych = initJsPsych({
    display_element: "iris-runner",
    show_progress_bar: true,
    auto_update_progress_bar: false,
    message_progress_bar: "Progress",
    // Focus, blur and fullscreen changes: kept with the next response.
    on_interaction_data_update: (event) => interactions.push(event),
  });

  function preload(trial) {
    const urls = [trial.query, ...trial.options].filter(Boolean);
    return Promise.all(urls.map((url) => { const img = new Image(); img.src = url; return img.decode().catch(() => null); }));
  }

  function leaveFor(url) {
    localStorage.removeItem(config.storageKey);
    window.location.assign(url || config.pageUrl);
  }

  async function refill() {
    const response = await sendWithRetry(`${config.trialsUrl}?n=4`, { method: "GET" });
    const body = await response.json().catch(() => ({}));
    if (response.status === 409 && body.next) {
      // The session ended on the server (gate failed, timed out): every answer is already sent.
      await outbox.flush();
      leaveFor(body.next);
      return new Promise(() => {}); // the page is going away
    }
    if (!response.ok) throw new Error(`trials: ${response.status}`);
    const held = new Set(queue.map((trial) => trial.id));
    for (const trial of body.trials) {
      if (!held.has(trial.id) && !answeredHere.has(trial.id)) queue.push(trial);
    }
  }

  function showProgress() {
    // jsPsych builds its progress bar when the run starts; trials only come after that.
    if (jsPsych.progressBar) jsPsych.progressBar.progress = total ? Math.min(answered / total, 1) : 1;
  }

  async function nextTrial() {
    showProgress();
    if (queue.length < 2) await refill();
    // Nothing more is served before the answers in flight are stored (the gate decides on them).
    if (!queue.length && outbox.items.length) { await outbox.flush(); await refill(); }
    current = queue.shift() || null;
    if (current) await preload(current);
    if (queue.length) preload(queue[0]);
  }

  let lastReply = Promise.resolve({});
  function record(data) {
    answeredHere.add(current.id);
    answered += 1;
    showProgress();
    lastReply = outbox.add({
      trial: current.id,
      idempotency_key: current.id,
      choice: data.choice,
      rating: data.rating,
      rt_ms: data.rt,
      client_data: {
        onset_ms: data.onset_ms, offset_ms: data.offset_ms, response_ms: data.response_ms,
        fixation_onset_ms: data.fixation_onset_ms, mask_offset_ms: data.mask_offset_ms,
        grid_onset_ms: data.grid_onset_ms, frame_ms: data.frame_ms, source: data.response_source,
        window: `${window.innerWidth}x${window.innerHeight}`, interactions: interactions,
      },
    });
    interactions = [];
  }

  async function finishStudy() {
    setStatus("Saving your answers…");
    await outbox.flush();
    const response = await sendWithRetry(config.finishUrl, {
      method: "POST", headers: { "X-CSRFToken": csrfToken },
    });
    const body = await response.json();
    leaveFor(body.next);
  }

  async function reportDevice(data) {
    const compatible = data.width >= config.minWidth && data.height >= config.minHeight;
    const response = await sendWithRetry(config.deviceUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ compatible: compatible, data: data }),
    });
    if (!compatible) leaveFor((await response.json()).next);
    return compatible;
  }

  const message = (html, button, extra) => ({
    type: jsPsychHtmlButtonResponse, stimulus: `<div class="iris-message">${html}</div>`, choices: [button], ...extra,
  });

  const browserCheck = {
    type: jsPsychBrowserCheck,
    features: ["width", "height", "browser", "browser_version", "mobile", "os", "fullscreen", "vsync_rate"],
    vsync_frame_count: 30,
    minimum_width: config.minWidth,
    minimum_height: config.minHeight,
    window_resize_message: `<p>Please make this window larger, at least <span id="browser-check-min-width"></span> ` +
      `by <span id="browser-check-min-height"></span> pixels (now <span id="browser-check-actual-width"></span> ` +
      `by <span id="browser-check-actual-height"></span>).</p>`,
    inclusion_function: (data) => data.width >= config.minWidth && data.height >= config.minHeight,
    exclusion_message: () => "<p>Sorry, this window is too small for the study.</p>",
    on_finish: (data) => { reportDevice(data); },
  };
  const fullscreen = { type: jsPsychFullscreen, fullscreen_mode: true, message: "<p>The study runs in full screen.</p>", button_label: "Full screen" };
  const instructions = {
    type: jsPsychInstructions,
    pages: [`<div class="iris-instructions">${config.instructionsHtml}</div>`],
    show_clickable_nav: true,
    button_label_next: "Start",
  };
  const fetchNext = { type: jsPsychCallFunction, async: true, func: (done) => { nextTrial().then(() => done()); } };
  const breakScreen = message("<p>Time for a short break.</p><p>Continue when you are ready.</p>", "Continue");
  const phaseNotice = message("<p>The practice is over. The study begins now; there is no feedback from here on.</p>", "Continue");
  const timing = config.timing || {};
  const choose = {
    type: IrisChoicePlugin,
    mode: () => (current.presentation === "rating" ? "rating" : "choice"),
    query: () => current.query,
    options: () => current.options,
    prompt: config.prompt,
    on_finish: record,
  };
  const timed = {
    type: IrisTimedPlugin,
    stimulus: () => current.query,
    labels: () => current.labels,
    prompt: config.prompt,
    fixation_ms: timing.fixation_ms ?? 300,
    stimulus_ms: timing.stimulus_ms ?? 300,
    mask_ms: timing.mask_ms ?? 300,
    on_finish: record,
  };
  let feedbackHtml = "";
  const feedback = {
    type: jsPsychHtmlButtonResponse, stimulus: () => `<div class="iris-message">${feedbackHtml}</div>`,
    choices: [], trial_duration: FEEDBACK_MS,
  };
  const fetchFeedback = {
    type: jsPsychCallFunction, async: true,
    func: (done) => {
      lastReply.then((reply) => {
        const right = reply && reply.feedback && reply.feedback.correct;
        feedbackHtml = right === true ? '<p class="iris-feedback good">Correct!</p>'
          : right === false ? '<p class="iris-feedback bad">Not quite.</p>' : '<p class="iris-feedback">Thank you.</p>';
        done();
      });
    },
  };
  const when = (test, timeline) => ({ timeline: timeline, conditional_function: test });
  const trialScreens = {
    timeline: [
      when(() => current.break_before, [breakScreen]),
      when(() => lastPhase === "practice" && current.phase !== "practice", [phaseNotice]),
      { type: jsPsychCallFunction, func: () => { lastPhase = current.phase; } },
      when(() => current.presentation === "timed", [timed]),
      when(() => current.presentation !== "timed", [choose]),
      when(() => current.phase === "practice", [fetchFeedback, feedback]),
    ],
    conditional_function: () => current !== null,
  };
  const trialLoop = { timeline: [fetchNext, trialScreens], loop_function: () => current !== null };
  const finish = { type: jsPsychCallFunction, async: true, func: (done) => { finishStudy().then(() => done()); } };

  outbox.flush();
  const fresh = answered === 0 && !outbox.items.length;
  jsPsych.run([
    browserCheck,
    ...(config.fullscreen ? [fullscreen] : []),
    ...(fresh ? [instructions] : []),
    trialLoop,
    finish,
  ]);
})();
