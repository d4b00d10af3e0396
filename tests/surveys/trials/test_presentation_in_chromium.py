"""Presentation as a reviewer checks it, in headless Chromium against the real server: images drawn at
the degrees of visual angle the study asked for (after a scripted virtual chinrest), a study that pauses
when the participant leaves full screen and marks the trial in the export, and devices turned away."""

import io
import math
import re
import time

import pandas as pd
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from surveys.trials.models import Participant, ParticipantStatus, Response
from tests.surveys import factories
from tests.surveys.browser import PHONE, fresh_contexts
from tests.surveys.trials.scripted import Script, run_through, wait_for_trial

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
CARD_MM = 85.6  # ISO/IEC 7810 ID-1, the chinrest's card
BLIND_SPOT_DEG = 13.5  # the chinrest's assumed angle between fixation and the blind spot
CONTINUE = "#jspsych-html-button-response-btngroup button"

# The chinrest's blind-spot phase, answered as a person would: space starts the ball, space again when
# it vanishes. The ball is put where it vanishes for someone `distance_mm` away and the second space is
# sent in the same step, so no animation frame moves it in between.
BLIND_SPOT_ANSWER = """([distancePx]) => {
  const display = document.querySelector(".jspsych-display-element");
  const key = (type) => display.dispatchEvent(new KeyboardEvent(type, { key: " ", code: "Space", bubbles: true }));
  const square = document.querySelector("#virtual-chinrest-square").getBoundingClientRect();
  const ball = document.querySelector("#virtual-chinrest-circle");
  const target = square.left + square.width / 2 - distancePx;  // where the ball's centre must be
  const offset = ball.getBoundingClientRect().left - parseFloat(ball.style.left);
  ball.style.left = `${target - offset - ball.getBoundingClientRect().width / 2}px`;
  const placed = ball.getBoundingClientRect();  // where the participant saw it vanish
  key("keydown"); key("keyup");
  return [{ left: square.left, right: square.right }, { left: placed.left, right: placed.right }];
}"""
PRESS_SPACE = """() => {
  const display = document.querySelector(".jspsych-display-element");
  for (const type of ["keydown", "keyup"]) display.dispatchEvent(new KeyboardEvent(type, { key: " ", code: "Space", bubbles: true }));
}"""


def calibrate(page, *, px_per_mm: float, distance_mm: float) -> list[dict]:
    """The card step at `px_per_mm` (the card is resized, then confirmed) and three blind-spot answers.
    Returns where on the page the card box, the fixation square and each vanishing ball were, so a test
    can check that a person could have seen them (a script can answer for a square off the window)."""
    page.click(f"{CONTINUE} >> nth=0", timeout=15_000)  # "I have a card"
    page.wait_for_selector("#item")
    page.evaluate("(px) => { document.querySelector('#item').style.width = `${px}px`; }", CARD_MM * px_per_mm)
    card = page.eval_on_selector("#item", "item => { const box = item.getBoundingClientRect(); "
                                          "return { left: box.left, right: box.right }; }")
    page.click("#end_resize_phase")
    distance_px = distance_mm * math.tan(math.radians(BLIND_SPOT_DEG)) * px_per_mm
    seen = [card]
    for _ in range(3):
        page.wait_for_selector("#virtual-chinrest-circle")
        page.evaluate(PRESS_SPACE)
        page.wait_for_timeout(100)  # the ball is moving
        seen.extend(page.evaluate(BLIND_SPOT_ANSWER, [distance_px]))
    return seen


def wait_until(test, *, timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while not test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def degrees(width_px: float, *, px_per_mm: float, distance_mm: float) -> float:
    """The visual angle an image `width_px` wide spans, centred, for this geometry."""
    return math.degrees(2 * math.atan(width_px / px_per_mm / 2 / distance_mm))


def export(study) -> pd.DataFrame:
    """The study's responses CSV, as its researcher downloads it through the API."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=study.owner)[0].key}")
    response = client.get(f"/api/studies/{study.pk}/responses.csv")
    assert response.status_code == 200
    return pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))


# Two screens a person can calibrate on. The chinrest's page is 900 CSS px wide whatever the window,
# so 900 px is the narrowest window that shows all of it (narrower ones get the fallback: see below).
@pytest.mark.parametrize(("viewport", "px_per_mm", "distance_mm"), [
    ({"viewport": {"width": 1280, "height": 800}}, 3.78, 550.0),  # a 96 dpi monitor at arm's length
    ({"viewport": {"width": 900, "height": 700}, "device_scale_factor": 2}, 5.0, 450.0),  # a dense laptop screen, closer
], ids=["desktop", "narrowest-window"])
def test_after_calibration_the_iri_spans_the_degrees_the_study_asked_for(live_server, viewport, px_per_mm,
                                                                       distance_mm, shared_chromium):
    study = factories.study(factories.researcher(), n_items=3, design={"calibrate": True, "stimulus_deg": 4.0})
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(**viewport)
        script = Script(decide=lambda trial: 0)
        script.watch(page)
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        seen = calibrate(page, px_per_mm=px_per_mm, distance_mm=distance_mm)
        page.click("#jspsych-instructions-next", timeout=15_000)
        wait_for_trial(page)
        page.wait_for_selector(".iris-trial[data-shown]")
        widths = page.eval_on_selector_all(".iris-trial img", "images => images.map((i) => i.getBoundingClientRect().width)")
        run_through(page, script, stop_after=1)
        stored_in_time = wait_until(lambda: Response.objects.filter(trial__participant__study=study).exists())
    assert script.script_errors() == [] and stored_in_time
    window_width = viewport["viewport"]["width"]
    assert all(box["left"] >= 0 and box["right"] <= window_width for box in seen), seen  # card, square, ball in view

    viewing = Participant.objects.get(study=study).client_info["viewing"]
    assert viewing["calibrated"] is True
    assert viewing["distance_mm"] == pytest.approx(distance_mm, rel=0.02)
    for width in widths:  # the query and both options
        assert degrees(width, px_per_mm=px_per_mm, distance_mm=distance_mm) == pytest.approx(4.0, rel=0.05)
    response = Response.objects.filter(trial__participant__study=study).first()
    assert response.client_data["size_fallback"] is False
    assert response.client_data["image_px"] == pytest.approx(widths[0], rel=0.01)


def test_without_a_card_the_images_keep_their_window_size_and_every_response_is_flagged(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True, "stimulus_deg": 4.0})
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        page.click(f"{CONTINUE} >> nth=1", timeout=15_000)  # "I have no card"
        page.click("#jspsych-instructions-next", timeout=15_000)
        run_through(page, Script(decide=lambda trial: 0))

    participant = Participant.objects.get(study=study)
    assert participant.status == ParticipantStatus.COMPLETED
    assert participant.client_info["viewing"] == {"calibrated": False, "failure": "skipped", "px_per_mm": None,
                                                  "distance_mm": None, "px_per_deg": None}
    flags = [r.client_data["size_fallback"] for r in Response.objects.filter(trial__participant=participant)]
    assert flags and all(flags)


# The window-based size images keep without calibration (participant.css, --iris-img), in CSS px.
FALLBACK_PX = "Math.min(0.38 * innerWidth, 0.30 * innerHeight, 256)"


@pytest.mark.parametrize(("context", "fallback_px"), [
    (PHONE, 0.38 * 375),  # a touch phone: a card is wider than its screen, and it has no space bar
    ({"viewport": {"width": 768, "height": 1024}, "has_touch": True}, 256),  # a touch tablet: no space bar
    ({"viewport": PHONE["viewport"]}, 0.38 * 375),  # a phone-sized window: the chinrest's square is off it
], ids=["touch-phone", "touch-tablet", "phone-sized-window"])
def test_where_the_chinrest_cannot_be_done_the_images_keep_their_window_size_flagged_in_the_export(
        live_server, context, fallback_px, shared_chromium):
    # Degrees need the viewing distance, which only the blind spot gives here; without it the images are
    # drawn at the window-based size, and every response says they were not sized in degrees.
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True, "stimulus_deg": 4.0})
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(**context)
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        page.click("#jspsych-instructions-next", timeout=15_000)  # straight on: no card step
        wait_for_trial(page)
        page.wait_for_selector(".iris-trial[data-shown]")
        widths = page.eval_on_selector_all(".iris-trial img", "images => images.map((i) => i.getBoundingClientRect().width)")
        window_rule_px = page.evaluate(FALLBACK_PX)
        run_through(page, Script(decide=lambda trial: 0))

    participant = Participant.objects.get(study=study)
    assert participant.status == ParticipantStatus.COMPLETED
    assert participant.client_info["viewing"]["failure"] == "skipped"
    assert window_rule_px == pytest.approx(fallback_px)
    assert len(widths) == 3 and all(width == pytest.approx(fallback_px, abs=0.5) for width in widths)
    frame = export(study)
    assert len(frame) == participant.trials.count()
    assert (frame.size_fallback == 1).all() and frame.px_per_deg.isna().all()
    assert frame.image_px.to_numpy() == pytest.approx(fallback_px, abs=0.5)


def test_leaving_full_screen_mid_trial_pauses_the_study_and_marks_that_trial_in_the_export(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=4, design={"fullscreen": True, "pause_on_leave": True})
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        page.click("#jspsych-fullscreen-btn", timeout=15_000)
        page.click("#jspsych-instructions-next", timeout=15_000)
        wait_for_trial(page)
        page.wait_for_selector(".iris-trial[data-shown]")
        assert page.evaluate("Boolean(document.fullscreenElement)")
        left_during = page.get_attribute(".iris-option img", "src")
        page.evaluate("document.exitFullscreen()")
        pause = page.wait_for_selector(".iris-pause", state="visible")
        paused_text = pause.inner_text()
        page.keyboard.press("f")  # no answer while paused
        page.wait_for_timeout(300)
        still_up = page.query_selector(f".iris-option img[src='{left_during}']") is not None
        page.click(".iris-pause button")
        page.wait_for_selector(".iris-pause", state="detached")
        back_in_full_screen = page.evaluate("Boolean(document.fullscreenElement)")
        run_through(page, Script(decide=lambda trial: 0))

    assert "paused" in paused_text and still_up and back_in_full_screen
    frame = export(study)
    marked = frame[frame.focus_lost == 1]
    assert len(frame) == Participant.objects.get(study=study).trials.count()
    assert list(marked.trial_id) == [left_during.split("/img/")[1].split("/")[0]]
    assert marked.paused_ms.iloc[0] >= 300
    assert (frame[frame.focus_lost == 0].paused_ms == 0).all()


@pytest.mark.parametrize(("design", "viewport", "reason"), [
    ({"min_refresh_hz": 500}, {}, "refreshes too slowly"),  # headless Chromium runs at 60 Hz
    ({"refuse_phones": True}, PHONE, "cannot be done on a phone"),
], ids=["slow-refresh", "phone"])
def test_a_device_the_study_refuses_is_told_why_and_sent_back_with_its_code(live_server, client, design, viewport,
                                                                             reason, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2, design=design,
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(**viewport)
        page.route("https://app.prolific.com/**", lambda route: route.fulfill(body="prolific"))
        page.goto(f"{live_server.url}/s/{study.public_id}/?PROLIFIC_PID=p1&STUDY_ID=s&SESSION_ID=x")
        page.click("#begin")
        page.click("#agree")
        # The end page says why, and its link takes the participant back to Prolific with the code for this
        # ending (when they choose: the page shows a withdrawal code to note, as they had agreed to take part).
        page.click("#return-link", timeout=30_000)
        page.wait_for_url("https://app.prolific.com/**", timeout=30_000)
        back_to = page.url

    participant = Participant.objects.get(study=study)
    end_page = client.get(f"/p/{participant.token}/").content.decode()  # the page the browser was shown
    assert back_to == f"https://app.prolific.com/submissions/complete?cc={study.code_incompatible}"
    assert participant.status == ParticipantStatus.INCOMPATIBLE
    assert reason in re.search(r'id="refusal">(.*?)</p>', end_page).group(1)
