"""The outbox alone (outbox.js on an empty page): "try again later" answers are tried again, as late as
the server asks, and never dropped; other refusals are final; nothing is sent twice or lost on reload."""

import email.utils
import time

import pytest

pytestmark = pytest.mark.browser
KEY = "outbox-under-test"
# A fresh outbox; every wait it reports is kept in window.waits (the status, or null for no reply).
MAKE = """([key, legacyUrl]) => {
  window.waits = [];
  window.outbox = new IrisOutbox.Outbox({ storageKey: key, headers: {}, legacyUrl,
    onWait: (response) => waits.push(response && response.status) });
}"""
ADD = "([url, trial, body]) => { window.reply = outbox.add(url, trial, body); }"


def outbox_page(open_page):
    page = open_page("outbox")
    page.evaluate(MAKE, [KEY, "/api/legacy"])
    return page


def add(page, trial: str, url: str = "/api/responses") -> None:
    page.evaluate(ADD, [url, trial, {"trial": trial, "idempotency_key": trial}])


def flushed(page, timeout_ms: int = 15_000) -> None:
    page.evaluate("""(ms) => Promise.race([outbox.flush(), new Promise((_, reject) =>
      setTimeout(() => reject(new Error("still sending")), ms))])""", timeout_ms)


def stored(page) -> list:
    return page.evaluate("(key) => JSON.parse(localStorage.getItem(key) || '[]')", KEY)


def gaps(posts) -> list[float]:
    return [later[0] - earlier[0] for earlier, later in zip(posts, posts[1:], strict=False)]


def test_a_429_is_tried_again_no_sooner_than_its_retry_after(open_page):
    page = outbox_page(open_page)
    page.server.replies = [(429, {"Retry-After": "1"}), (429, {"Retry-After": "1"})]

    add(page, "t1")
    flushed(page)

    posts = page.server.posts
    assert [body for _, _, body in posts] == [{"trial": "t1", "idempotency_key": "t1"}] * 3
    assert all(gap >= 0.95 for gap in gaps(posts)), gaps(posts)
    assert page.evaluate("waits") == [429, 429]
    assert stored(page) == []
    assert page.evaluate("window.reply") == {"status": 201}


def test_a_503_with_a_retry_after_date_or_none_is_tried_again(open_page):
    page = outbox_page(open_page)
    in_two_seconds = email.utils.formatdate(time.time() + 2, usegmt=True)
    page.server.replies = [(503, {"Retry-After": in_two_seconds}), (503, {}), (503, {"Retry-After": "soon"})]

    add(page, "t1")
    flushed(page)

    posts = page.server.posts
    assert len(posts) == 4
    assert gaps(posts)[0] >= 0.95  # an HTTP date has whole seconds: at least one of the two is left
    assert page.evaluate("waits") == [503, 503, 503]
    assert stored(page) == []


def test_no_reply_and_server_errors_are_tried_again(open_page):
    page = outbox_page(open_page)
    page.server.replies = ["abort", (500, {}), (408, {})]

    add(page, "t1")
    flushed(page)

    assert len(page.server.posts) == 4
    assert page.evaluate("waits") == [None, 500, 408]
    assert stored(page) == []


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_any_other_refusal_is_final_and_the_next_item_goes(open_page, status):
    page = outbox_page(open_page)
    page.server.replies = [(status, {})]

    add(page, "refused")
    add(page, "next")
    flushed(page)

    assert [body["trial"] for _, _, body in page.server.posts] == ["refused", "next"]
    assert page.evaluate("waits") == []
    assert stored(page) == []


def test_items_wait_in_local_storage_through_a_reload_and_go_once_in_order(open_page):
    page = outbox_page(open_page)
    page.server.replies = [(503, {"Retry-After": "60"})]
    add(page, "a")
    add(page, "b", url="/api/trials/b/unavailable")
    page.wait_for_function("() => waits.length === 1")
    held = stored(page)
    page.evaluate("(key) => localStorage.setItem(key, JSON.stringify([...JSON.parse(localStorage.getItem(key)),"
                  "{ trial: 'c', idempotency_key: 'c' }]))", KEY)  # as an older runner saved its items

    page.reload()
    page.evaluate(MAKE, [KEY, "/api/legacy"])
    flushed(page)

    assert [item["trial"] for item in held] == ["a", "b"]
    sent = [(path, body["trial"]) for _, path, body in page.server.posts[1:]]
    assert sent == [("/api/responses", "a"), ("/api/trials/b/unavailable", "b"), ("/api/legacy", "c")]
    assert stored(page) == []


def test_it_reads_retry_after_and_tells_final_answers_from_later_ones(open_page):
    page = outbox_page(open_page)
    later = page.evaluate("""() => {
      const reply = (status, headers) => new Response(null, { status, headers });
      const L = IrisOutbox.laterMs;
      return {
        rateLimited: L(reply(429, { "Retry-After": "2" }), 0),
        absurd: L(reply(503, { "Retry-After": "86400" }), 0),
        imageServerError: L(reply(500), 0, { serverErrors: false }),
        imageBusy: L(reply(503, { "Retry-After": "3" }), 0, { serverErrors: false }),
        postServerError: L(reply(500), 0) !== null,
        ok: L(reply(201), 0),
        refused: L(reply(400), 0),
        noReply: L(null, 10),
      };
    }""")

    assert later["rateLimited"] == 2000 and later["imageBusy"] == 3000
    assert later["absurd"] == 5 * 60 * 1000  # believed up to five minutes
    assert later["imageServerError"] is None and later["postServerError"] is True
    assert later["ok"] is None and later["refused"] is None
    assert 4000 <= later["noReply"] <= 8000  # doubling backoff, capped, with a random half
