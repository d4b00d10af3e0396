"""Nothing is lost and nothing leaks, in a real browser: a reload resumes at the next trial, a blocked
network only delays responses, the completion redirect waits for every answer, and no byte sent to
the participant identifies the right option."""

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from surveys.trials.models import Participant, ParticipantStatus, Response
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import Script, enter, run_through, wait_for_trial

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
BLOCK_S = 5


def right(trial):
    return trial.layout["answer"]


def test_a_reload_mid_study_resumes_at_the_next_trial(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=5)
    script = Script(decide=right)
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        script.watch(page)
        enter(page, f"{live_server.url}/s/{study.public_id}/")
        run_through(page, script, stop_after=2)
        page.wait_for_function("() => !localStorage.length || localStorage.getItem(localStorage.key(0)) === '[]'")

        page.reload()
        wait_for_trial(page)
        shown = re.search(r"/img/([^/]+)/", page.get_attribute(".iris-option img", "src")).group(1)
        run_through(page, script)
        assert page.inner_text("#completion-code") == study.completion_code
    participant = Participant.objects.get()
    # The first trial after the reload is the first unanswered one, and no trial was shown twice.
    assert participant.trials.get(public_id=shown).index == 2
    assert [a.trial_id for a in script.actions] == list(participant.trials.order_by("index")
                                                         .values_list("public_id", flat=True))
    assert Response.objects.count() == 5
    assert script.errors == []


def test_responses_sent_while_the_network_is_blocked_for_5_s_all_arrive(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=5)
    script = Script(decide=right, wait_ms=100)
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        enter(page, f"{live_server.url}/s/{study.public_id}/")
        blocked_until = time.monotonic() + BLOCK_S
        aborted = []

        def block_for_a_while(route):
            if time.monotonic() < blocked_until:
                aborted.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        page.route("**/responses", block_for_a_while)
        run_through(page, script, stop_after=3)
        assert aborted, "the block never caught a response"
        assert Response.objects.count() < 3  # answered while offline: held in the outbox
        run_through(page, script)
        assert page.inner_text("#completion-code") == study.completion_code
    stored = dict(Response.objects.values_list("trial__public_id", "choice"))
    assert stored == {a.trial_id: a.value for a in script.actions}
    assert len(stored) == 5


def test_answers_met_with_429_or_503_wait_as_long_as_retry_after_says_and_all_arrive_once(live_server, shared_chromium):
    # Overload is not a refusal: "try again later" (429, 503, with or without Retry-After) never drops
    # an answer, and a Retry-After is honoured rather than hammered.
    study = factories.study(factories.researcher(), n_items=4)
    script = Script(decide=right, wait_ms=100)
    refusals = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "1"}), (429, {}), (503, {})]
    posts = []  # (time, status given, or None when passed to the server)
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        script.watch(page)

        def overloaded(route):
            reply = refusals.pop(0) if refusals else None
            posts.append((time.monotonic(), reply and reply[0]))
            if reply:
                route.fulfill(status=reply[0], headers=reply[1], json={"error": "busy"})
            else:
                route.continue_()

        page.route("**/responses", overloaded)
        enter(page, f"{live_server.url}/s/{study.public_id}/")
        run_through(page, script)
        assert page.inner_text("#completion-code") == study.completion_code
    stored = dict(Response.objects.values_list("trial__public_id", "choice"))
    assert stored == {a.trial_id: a.value for a in script.actions} and len(stored) == 4
    assert [status for _, status in posts[:5]] == [429, 503, 429, 503, None]
    assert posts[1][0] - posts[0][0] >= 0.95 and posts[2][0] - posts[1][0] >= 0.95  # Retry-After: 1
    assert script.script_errors() == []


def _mentions(text: str, word: str) -> bool:
    """``word`` in ``text`` other than inside a longer letter-and-digit run: a short secret such
    as the category "dog" turns up by chance inside random tokens (CSRF, session ids) otherwise."""
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None


def test_nothing_sent_to_a_participant_identifies_the_right_option(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=4,
                            design={"practice": True, "practice_trials": 2, "catch_every": 2})
    captured = []  # (url, headers, body) of every response the browser received
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()

        def keep(response):
            try:
                body = response.body()
            except PlaywrightError:  # redirects have no body
                body = b""
            captured.append((response.url, response.all_headers(), body))

        page.on("response", keep)
        enter(page, f"{live_server.url}/s/{study.public_id}/?PROLIFIC_PID=leak-check&STUDY_ID=s&SESSION_ID=x")
        run_through(page, Script(decide=right))
    assert captured
    stimuli = [item.stimulus for item in study.items.select_related("stimulus__target")]
    # Role words and ids: anywhere, even inside longer words ("targets", "isTarget").
    secrets_ = {"target", "seed", "correct", '"answer"', "iri_png", "chose", "anchor", "catch", "qualification"}
    secrets_ |= {str(s.public_id) for s in stimuli}
    # Names from the researcher's data, some as short as "dog": as whole words only.
    names = {s.target.name for s in stimuli} | {s.target.category for s in stimuli}
    for field_name in ("target_png", "seed_png", "iri_png"):
        names |= {getattr(s, field_name).name.rsplit("/", 1)[-1] for s in stimuli}
    for url, headers, body in captured:
        if "/static/" in url:
            continue  # the same files for everyone (jsPsych, the runner): they know nothing of any trial
        text = (url + " " + repr(headers) + " " + body.decode("utf-8", "replace")).lower()
        if "/responses" in url:
            # Practice feedback alone may speak of correctness, after the answer is stored.
            text = text.replace('"feedback": {"correct": true}', "").replace('"feedback": {"correct": false}', "")
        found = {word for word in secrets_ if word.lower() in text}
        found |= {name for name in names if _mentions(text, name.lower())}
        assert not found, (url, found)
    # Image URLs carry the trial's opaque id and a slot number only.
    images = [url for url, _, _ in captured if "/img/" in url]
    assert images and all(re.search(r"/img/[\w-]+/(q|\d)$", url) for url in images)
    assert not any("content-disposition" in headers for url, headers, _ in captured if "/img/" in url)


def test_the_prolific_flow_captures_ids_redirects_with_the_code_and_resumes_only_in_its_browser(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=3,
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    params = "?PROLIFIC_PID=pp-123&STUDY_ID=st-9&SESSION_ID=se-7"
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        landed = []
        page.route("https://app.prolific.com/**", lambda route: (landed.append(route.request.url),
                                                                  route.fulfill(body="prolific")))
        enter(page, f"{live_server.url}/s/{study.public_id}/{params}")
        run_through(page, Script(decide=right), stop_after=1)
        token = Participant.objects.get().token

        # A second visit through the link, in the same browser, resumes the same session.
        page.goto(f"{live_server.url}/s/{study.public_id}/{params}")
        page.click("#begin")
        wait_for_trial(page)
        assert page.url.rstrip("/").endswith(token)
        # Another browser with the same PROLIFIC_PID (a new device, or someone who knows the id) is told
        # that the study was started elsewhere, and gets no session.
        other = browser.new_context().new_page()
        other.goto(f"{live_server.url}/s/{study.public_id}/{params}")
        other.click("#begin")
        other.wait_for_selector("text=You have already started this study")
        assert token not in other.url and token not in other.content()
        other.close()

        run_through(page, Script(decide=right))
        # The end page shows a withdrawal code to note, so the participant goes back when they choose.
        page.click("#return-link", timeout=15_000)
        page.wait_for_url("https://app.prolific.com/**", timeout=10_000)
    participant = Participant.objects.get()
    assert participant.recruitment_data == {"PROLIFIC_PID": "pp-123", "STUDY_ID": "st-9", "SESSION_ID": "se-7"}
    assert participant.status == ParticipantStatus.COMPLETED
    assert landed == [f"https://app.prolific.com/submissions/complete?cc={study.completion_code}"]
    assert Response.objects.filter(trial__participant=participant).count() == 3


def test_a_window_too_small_ends_the_session_with_the_incompatible_device_code(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2, design={"min_width": 600, "min_height": 500})
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(viewport={"width": 400, "height": 700})
        page.goto(f"{live_server.url}/s/{study.public_id}/?PROLIFIC_PID=tiny")
        page.click("#begin")
        page.click("#agree")
        page.click("#browser-check-max-size-btn", timeout=15_000)  # "I cannot make the window any larger"
        page.wait_for_selector("#completion-code", timeout=15_000)
        code = page.inner_text("#completion-code")
    participant = Participant.objects.get()
    assert participant.status == ParticipantStatus.INCOMPATIBLE
    assert code == study.code_incompatible
    assert participant.client_info["device"]["width"] == 400
    assert not Response.objects.exists()
