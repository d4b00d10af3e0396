"""The participant's JavaScript on its own: a page holding only jsPsych and the file under test (a
plugin, or the outbox), in headless Chromium. Every request of the page is answered here from the
repository's files (static/iris, node_modules), so no web server and no database take part.

Images: /img/<name>.png is a small PNG; /img/broken-<name>.png answers 500; /img/corrupt-<name>.png
answers 200 with bytes that are no image; /img/flaky-<name>.png fails its first request only.
Tests read how often each was asked for in `page.server.image_requests`."""

import io
import json
import mimetypes
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://iris.test"
VENDOR = {
    "/vendor/jspsych.js": ROOT / "node_modules" / "jspsych" / "dist" / "index.browser.min.js",
    "/vendor/jspsych.css": ROOT / "node_modules" / "jspsych" / "css" / "jspsych.css",
}
SCRIPTS = {
    "choice": ["iris-screen.js", "plugin-iris-choice.js"],
    "rating": ["iris-screen.js", "plugin-iris-rating.js"],
    "timed": ["iris-screen.js", "plugin-iris-timed.js"],
    "questions": ["iris-screen.js", "plugin-iris-questions.js"],
    "outbox": ["outbox.js"],
    "presentation": ["iris-presentation.js"],
}
# What every test watches for: markup injected through a label must never run. A dialog also counts.
WATCH = """
window.pwned = false;
window.trialsSeen = [];  // for each .iris-trial put on the page: were all its images decoded then?
new MutationObserver(() => {
  for (const trial of document.querySelectorAll(".iris-trial:not([data-seen])")) {
    trial.dataset.seen = "";
    trialsSeen.push([...trial.querySelectorAll("img")].map((img) => img.complete && img.naturalWidth > 0));
  }
}).observe(document.documentElement, { childList: true, subtree: true });
"""
# Runs one trial; the data come back through `window.result` (a promise), read with `result(page)`.
RUN = """([plugin, params]) => {
  window.result = new Promise((resolve, reject) => {
    const jsPsych = initJsPsych({ on_finish: () => resolve(jsPsych.data.get().values()[0]) });
    window.jsPsych = jsPsych;
    jsPsych.run([{ type: window[plugin], ...params }]).catch(reject);
  });
}"""
# Holds every animation frame back until releaseFrames(): a screen is then on the page but not painted.
HOLD_FRAMES = """() => {
  const real = window.requestAnimationFrame.bind(window);
  const held = [];
  window.requestAnimationFrame = (callback) => { held.push(callback); return 0; };
  window.releaseFrames = () => { window.requestAnimationFrame = real; held.splice(0).forEach((c) => real(c)); };
}"""


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class Server:
    """Answers the page's requests; counts image requests. Posts to /api/... are answered from
    `replies` in turn ((status, headers), or "abort" for no reply at all; 201 once they run out)
    and kept in `posts` as (monotonic time, path, body)."""

    def __init__(self, scripts: list[str]):
        self.scripts = scripts
        self.image_requests: Counter = Counter()
        self.replies: list = []
        self.posts: list[tuple[float, str, dict]] = []

    def page_html(self) -> str:
        tags = "".join(f'<script src="/iris/{name}"></script>' for name in self.scripts)
        return (f'<!doctype html><html><head><link rel="stylesheet" href="/vendor/jspsych.css">'
                f'<link rel="stylesheet" href="/iris/participant.css"><script src="/vendor/jspsych.js"></script>'
                f"{tags}<script>{WATCH}</script></head><body></body></html>")

    def handle(self, route) -> None:
        path = urlparse(route.request.url).path
        if path == "/":
            route.fulfill(body=self.page_html(), content_type="text/html")
        elif path.startswith("/api/"):
            self.answer(route, path)
        elif path.startswith("/img/"):
            self.image(route, path.removeprefix("/img/"))
        elif path.startswith("/iris/"):
            self.file(route, ROOT / "static" / "iris" / path.removeprefix("/iris/"))
        elif path in VENDOR:
            self.file(route, VENDOR[path])
        else:
            route.fulfill(status=404, body="not here")

    def image(self, route, name: str) -> None:
        self.image_requests[name] += 1
        if name.startswith("broken-") or (name.startswith("flaky-") and self.image_requests[name] == 1):
            route.fulfill(status=500, body="server error")
        elif name.startswith("corrupt-"):
            route.fulfill(body=b"\x89PNG\r\n\x1a\n this is no picture", content_type="image/png")
        else:
            route.fulfill(body=png((40 + 7 * len(name), 120, 200)), content_type="image/png")

    def answer(self, route, path: str) -> None:
        self.posts.append((time.monotonic(), path, json.loads(route.request.post_data or "null")))
        reply = self.replies.pop(0) if self.replies else (201, {})
        if reply == "abort":
            route.abort()
            return
        status, headers = reply
        route.fulfill(status=status, headers=headers, json={"status": status})

    @staticmethod
    def file(route, path: Path) -> None:
        route.fulfill(body=path.read_bytes(), content_type=mimetypes.guess_type(path.name)[0] or "text/plain")


def start(page, plugin: str, **params) -> None:
    page.evaluate(RUN, [plugin, params])


def result(page, *, timeout_ms: int = 10_000) -> dict:
    """The trial's data, once it has ended; fails if it has not within timeout_ms."""
    return page.evaluate("""(ms) => Promise.race([window.result, new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`the trial did not end within ${ms} ms`)), ms))])""", timeout_ms)


def hold_frames(page) -> None:
    page.evaluate(HOLD_FRAMES)


def images(*names: str) -> list[str]:
    return [f"/img/{name}.png" for name in names]


def declared(page, plugin: str) -> dict:
    """The plugin's declared parameters and data: {name: {type, array, default, required}}."""
    return json.loads(page.evaluate("""(plugin) => {
      const P = jsPsychModule.ParameterType;
      const describe = (fields) => Object.fromEntries(Object.entries(fields).map(([name, f]) => [name,
        { type: P[f.type], array: Boolean(f.array), default: f.default === undefined ? null : f.default,
          required: "default" in f && f.default === undefined }]));
      const info = window[plugin].info;
      return JSON.stringify({ name: info.name, version: info.version,
                              parameters: describe(info.parameters), data: describe(info.data) });
    }""", plugin))


XSS = '<img src=x onerror="window.pwned = true">'


def no_injection(page) -> None:
    """Nothing from the payload became an element, ran, or opened a dialog."""
    page.wait_for_timeout(50)  # an onerror would have run by now
    assert page.evaluate("document.querySelectorAll(\"img[src='x']\").length") == 0
    assert page.evaluate("window.pwned") is False
    assert page.problems == []
