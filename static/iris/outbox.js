/* The participant's outbox: every answer (and every "this trial could not be shown") is kept in
 * localStorage until the server has acknowledged it, and sent in order, one at a time, again and
 * again until it is. Each answer carries an idempotency key, so a post that reached the server but
 * whose reply was lost is found there, not stored twice. Nothing is lost offline or on reload.
 *
 * What counts as "try again later": no reply at all (offline, server gone), 408, 429 and 503 (the
 * server asks to be left alone; its Retry-After is honoured) and, for posts, any other 5xx (an outage).
 * Any other 4xx is final: the server refused that item for good and retrying cannot change that. */
var IrisOutbox = (function () {
  "use strict";
  const FIRST_BACKOFF_MS = 300;
  const MAX_BACKOFF_MS = 8000;
  const MAX_RETRY_AFTER_MS = 5 * 60 * 1000; // a server asking for longer is not believed beyond this

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Retry-After (seconds, or an HTTP date) in milliseconds; null when absent or unreadable. */
  function retryAfterMs(response) {
    const value = response.headers.get("Retry-After");
    if (value === null || value.trim() === "") return null;
    const seconds = Number(value);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
    return Number.isNaN(ms) ? null : Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
  }

  /** The pause before try number `attempt` (0, 1, ...) when the server gave no Retry-After: doubling,
   * capped, with a random part so that many participants cut off at once do not come back at once. */
  function backoffMs(attempt) {
    const ceiling = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
    return ceiling / 2 + Math.random() * ceiling / 2;
  }

  /** How long to wait before asking again, or null when this reply is final. `response` is null when
   * no reply came. `serverErrors`: whether a 5xx other than 503 is an outage worth waiting out. */
  function laterMs(response, attempt, { serverErrors = true } = {}) {
    if (response === null) return backoffMs(attempt);
    const status = response.status;
    if (status === 429 || status === 503) return retryAfterMs(response) ?? backoffMs(attempt);
    if (status === 408 || (serverErrors && status >= 500)) return backoffMs(attempt);
    return null;
  }

  /** fetch, repeated while the answer means "later"; resolves with the first final reply.
   * `onWait(response)` is called before each pause (null: no reply). */
  async function sendWithRetry(url, options, onWait) {
    for (let attempt = 0; ; attempt += 1) {
      let response = null;
      try {
        response = await fetch(url, { credentials: "same-origin", ...options });
      } catch (networkError) {
        /* offline or the server is gone: try again */
      }
      const wait = laterMs(response, attempt);
      if (wait === null) return response;
      if (onWait) onWait(response);
      await sleep(wait);
    }
  }

  class Outbox {
    /** storageKey: where the items live in localStorage; headers: sent with every post;
     * legacyUrl: where items saved by an older runner (a bare response body) go;
     * onWait(response) / onSent(): for the page's status line. */
    constructor({ storageKey, headers, legacyUrl, onWait, onSent }) {
      this.key = storageKey;
      this.headers = headers;
      this.onWait = onWait;
      this.onSent = onSent;
      this.items = JSON.parse(localStorage.getItem(storageKey) || "[]")
        .map((item) => (item.url ? item : { url: legacyUrl, trial: item.trial, body: item }));
      this.sending = null;
      this.waiting = new Map(); // trial id -> resolve(server reply), for practice feedback
    }

    save() { localStorage.setItem(this.key, JSON.stringify(this.items)); }

    /** Keep `body` for posting to `url` (on behalf of `trial`); resolves with the server's reply. */
    add(url, trial, body) {
      const reply = new Promise((resolve) => this.waiting.set(trial, resolve));
      this.items.push({ url, trial, body });
      this.save();
      this.flush();
      return reply;
    }

    trials() { return this.items.map((item) => item.trial); }

    /** Resolves once every item held now (and any added meanwhile) has a final reply. */
    flush() {
      if (!this.sending) this.sending = this.drain().finally(() => { this.sending = null; });
      return this.sending;
    }

    async drain() {
      while (this.items.length) {
        const item = this.items[0];
        const response = await sendWithRetry(item.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...this.headers },
          body: JSON.stringify(item.body),
        }, this.onWait);
        const reply = await response.json().catch(() => ({}));
        if (!response.ok) console.warn("IRIS: the server refused an item for good", response.status, reply);
        this.items.shift();
        this.save();
        if (this.onSent) this.onSent();
        const resolve = this.waiting.get(item.trial);
        if (resolve) { this.waiting.delete(item.trial); resolve(reply); }
      }
    }
  }

  return { Outbox, sendWithRetry, laterMs, retryAfterMs };
})();
