/* How exactly the participant's screen shows the study (docs/method.md §2, "Presentation"): the
 * display's measured refresh, which devices a study turns away, images sized in degrees of visual
 * angle, and whether the participant was looking (focus, tab and full screen).
 *
 * Nothing here writes markup: the pause screen is built from elements and the words it is given. */
var IrisPresentation = (function () {
  "use strict";
  const MIN_FRAME_MS = 2; // shorter intervals are two frames run back to back, not a 500 Hz display
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

  /** The display's refresh from `frames` animation frames: the median interval (robust to a stall),
   * its rate, and the intervals' standard deviation (how irregular the frames come). */
  async function measureRefresh(frames) {
    const times = [];
    for (let i = 0; i <= frames; i += 1) times.push(await nextFrame());
    const intervals = times.slice(1).map((t, i) => t - times[i]).filter((ms) => ms >= MIN_FRAME_MS);
    const sorted = [...intervals].sort((x, y) => x - y);
    const frame = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)] : 1000 / 60;
    const mean = intervals.reduce((sum, ms) => sum + ms, 0) / Math.max(intervals.length, 1);
    const variance = intervals.reduce((sum, ms) => sum + (ms - mean) ** 2, 0) / Math.max(intervals.length, 1);
    return { frame_ms: frame, refresh_hz: 1000 / frame, frame_jitter_ms: Math.sqrt(variance), frames: intervals.length };
  }

  /** A phone or small tablet: the browser says it is mobile, or it is touch-only with a small screen
   * (some phone browsers ask for desktop sites and do not say they are mobile). */
  const isPhone = (check) => Boolean(check.mobile) ||
    (window.matchMedia("(pointer: coarse)").matches && Math.min(screen.width, screen.height) < 600);

  /** Whether this window and device can do the virtual chinrest. Its page is 900 CSS px wide, whatever
   * the window (jsPsych's plugin fixes it): in a narrower window the card's resize handle and the
   * blind spot's fixation square lie beyond the window's edge. And the blind spot is answered with the
   * space bar, which a phone or a touch-first tablet has none of. Such a participant gets the
   * window-sized images, and every response says so (size_fallback). */
  const CHINREST_WIDTH_PX = 900;
  const canCalibrate = (check) => !isPhone(check) && !window.matchMedia("(pointer: coarse)").matches &&
    window.innerWidth >= CHINREST_WIDTH_PX;

  /** Why this device cannot take the study (a key of the server's REFUSALS), or null. */
  function refusal(presentation, display, check) {
    if (presentation.refuse_phones && isPhone(check)) return "phone";
    if (presentation.min_refresh_hz && display.refresh_hz < presentation.min_refresh_hz * 0.95) return "slow_refresh";
    if (presentation.max_frame_jitter_ms && display.frame_jitter_ms > presentation.max_frame_jitter_ms) {
      return "irregular_refresh";
    }
    return null;
  }

  /** The chinrest's data as the server's viewing spec: pixels per mm and viewing distance. */
  function viewingFromChinrest(data) {
    const ok = Number.isFinite(data.px2mm) && Number.isFinite(data.view_dist_mm) && data.view_dist_mm > 0;
    return ok ? { px_per_mm: data.px2mm, distance_mm: data.view_dist_mm } : { skipped: true };
  }

  /** Images `px` CSS pixels wide from now on (participant.css reads --iris-deg-img); null: window-sized. */
  function sizeImages(px) {
    if (px) document.documentElement.style.setProperty("--iris-deg-img", `${px}px`);
    else document.documentElement.style.removeProperty("--iris-deg-img");
  }

  /** Watches focus, the tab and (when the study runs in it) full screen. Every trial learns whether
   * the participant was away during it; with `pauseOnLeave`, leaving also pauses the study behind a
   * screen that only a click on its button lifts (which also re-enters full screen). `text` holds the
   * pause screen's words (the runner's catalogue: paused_left, paused_fullscreen, resume_fullscreen,
   * continue). */
  class Attention {
    constructor({ pauseOnLeave, fullscreen, jsPsych, text }) {
      Object.assign(this, { pauseOnLeave, fullscreen, jsPsych, text });
      this.lost = false; // away at some point since the trial began
      this.reasons = [];
      this.pausedMs = 0;
      this.pausedAt = null;
      this.overlay = null;
      this.armed = false; // the runner arms it when the trials begin: steps before them never pause
      document.addEventListener("visibilitychange", () => { if (document.hidden) this.leave("hidden"); });
      window.addEventListener("blur", () => this.leave("blur"));
      document.addEventListener("fullscreenchange", () => {
        if (this.fullscreen && this.wasFullscreen && !document.fullscreenElement) this.leave("fullscreen_exit");
        this.wasFullscreen = Boolean(document.fullscreenElement);
      });
      // While paused no key may answer the trial underneath: no page listener sees any key (the
      // browser's own action still runs, so Enter or space still presses the pause screen's button).
      window.addEventListener("keydown", (event) => {
        if (this.pausedAt !== null) event.stopImmediatePropagation();
      }, true);
    }

    leave(reason) {
      this.lost = true;
      if (!this.reasons.includes(reason)) this.reasons.push(reason);
      if (this.pauseOnLeave && this.armed && this.pausedAt === null) this.pause(reason);
    }

    pause(reason) {
      this.pausedAt = performance.now();
      this.jsPsych.pauseExperiment();
      const button = document.createElement("button");
      button.type = "button";
      button.className = "iris-button";
      button.textContent = this.fullscreen ? this.text.resume_fullscreen : this.text.continue;
      button.addEventListener("click", () => this.resume());
      const text = document.createElement("p");
      text.textContent = reason === "fullscreen_exit" ? this.text.paused_fullscreen : this.text.paused_left;
      this.overlay = document.createElement("div");
      this.overlay.className = "iris-pause";
      this.overlay.setAttribute("role", "alertdialog");
      this.overlay.append(text, button);
      document.body.append(this.overlay);
      button.focus();
    }

    resume() {
      if (this.fullscreen && !document.fullscreenElement && document.documentElement.requestFullscreen) {
        document.documentElement.requestFullscreen().catch(() => {});
      }
      this.pausedMs += performance.now() - this.pausedAt;
      this.pausedAt = null;
      this.overlay.remove();
      this.overlay = null;
      this.jsPsych.resumeExperiment();
    }

    /** At a trial's start: being away now already marks it. */
    trialStart() {
      const away = document.hidden || this.pausedAt !== null;
      this.lost = away;
      this.reasons = away ? ["away_at_start"] : [];
      this.pausedMs = 0;
    }

    /** At its end: the marks the response carries. */
    trialMarks() {
      return { focus_lost: this.lost, focus_lost_reasons: [...this.reasons], paused_ms: Math.round(this.pausedMs) };
    }
  }

  return { measureRefresh, refusal, isPhone, canCalibrate, viewingFromChinrest, sizeImages, Attention };
})();
