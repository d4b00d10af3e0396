"""Fixtures for the JavaScript suite: a fresh page per test (harness.py) in the session's Chromium
(tests/conftest.py)."""

import pytest

from tests.js.harness import ORIGIN, SCRIPTS, Server


@pytest.fixture
def open_page(shared_chromium):
    """open_page("choice") -> a page with jsPsych and that plugin, its server at page.server and any
    script error or dialog in page.problems."""
    pages = []

    def open_(kind: str, **context):
        page = shared_chromium.new_page(**context)
        pages.append(page)
        page.server = Server(SCRIPTS[kind])
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.on("dialog", lambda dialog: (page.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.route(f"{ORIGIN}/**", page.server.handle)
        page.goto(f"{ORIGIN}/")
        return page

    yield open_
    for page in pages:
        page.close()
