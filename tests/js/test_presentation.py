"""iris-presentation.js alone: the refresh measurement, which devices a study refuses, and the
attention watcher (a hidden tab or a blur marks the trial; with pause_on_leave the study pauses and no
key gets through until the participant clicks to go on)."""

import pytest

pytestmark = pytest.mark.browser
# A stand-in for jsPsych's pause and resume, and an Attention watcher armed as the runner arms it.
WATCHER = """([pauseOnLeave]) => {
  window.calls = [];
  const jsPsych = { pauseExperiment: () => calls.push("pause"), resumeExperiment: () => calls.push("resume") };
  const text = { paused_left: "Paused: you left.", paused_fullscreen: "Paused: no full screen.", continue: "Go on",
    resume_fullscreen: "Full screen again" };
  window.attention = new IrisPresentation.Attention({ pauseOnLeave, fullscreen: false, jsPsych, text });
  attention.armed = true;
  window.keysSeen = [];
  document.body.addEventListener("keydown", (event) => keysSeen.push(event.key));
}"""
HIDE_TAB = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  document.dispatchEvent(new Event("visibilitychange"));
  Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_it_measures_the_refresh_of_the_display(open_page):
    display = open_page("presentation").evaluate("IrisPresentation.measureRefresh(30)")

    assert 1000 / 240 <= display["frame_ms"] <= 1000 / 24
    assert display["refresh_hz"] == pytest.approx(1000 / display["frame_ms"])
    assert display["frame_jitter_ms"] >= 0 and display["frames"] >= 25


@pytest.mark.parametrize(("presentation", "display", "check", "refused"), [
    ({}, {"refresh_hz": 30, "frame_jitter_ms": 9}, {"mobile": True}, None),
    ({"refuse_phones": True}, {"refresh_hz": 60, "frame_jitter_ms": 0.1}, {"mobile": True}, "phone"),
    ({"min_refresh_hz": 60}, {"refresh_hz": 59.9, "frame_jitter_ms": 0.1}, {}, None),  # within 5%
    ({"min_refresh_hz": 60}, {"refresh_hz": 50, "frame_jitter_ms": 0.1}, {}, "slow_refresh"),
    ({"max_frame_jitter_ms": 2}, {"refresh_hz": 60, "frame_jitter_ms": 3}, {}, "irregular_refresh"),
])
def test_it_refuses_only_the_devices_the_study_asks_it_to(open_page, presentation, display, check, refused):
    page = open_page("presentation")

    assert page.evaluate("([p, d, c]) => IrisPresentation.refusal(p, d, c)", [presentation, display, check]) == refused


@pytest.mark.parametrize(("context", "check", "can"), [
    ({"viewport": {"width": 1280, "height": 800}}, {}, True),
    ({"viewport": {"width": 900, "height": 700}}, {}, True),  # the chinrest's page just fits
    ({"viewport": {"width": 899, "height": 700}}, {}, False),  # its fixation square would be off the window
    ({"viewport": {"width": 1280, "height": 800}}, {"mobile": True}, False),  # a phone asking for desktop pages
    ({"viewport": {"width": 1024, "height": 1366}, "has_touch": True}, {}, False),  # a touch tablet: no space bar
], ids=["desktop", "900px", "899px", "mobile", "touch-tablet"])
def test_only_a_window_that_shows_the_whole_chinrest_with_a_keyboard_calibrates(open_page, context, check, can):
    page = open_page("presentation", **context)

    assert page.evaluate("(check) => IrisPresentation.canCalibrate(check)", check) is can


def test_a_hidden_tab_marks_the_trial_and_pauses_until_the_participant_clicks_on(open_page):
    page = open_page("presentation")
    page.evaluate(WATCHER, [True])
    page.evaluate("attention.trialStart()")

    page.evaluate(HIDE_TAB)
    paused = page.is_visible(".iris-pause")
    page.keyboard.press("f")  # would answer the trial underneath
    page.wait_for_timeout(250)
    page.click(".iris-pause button")
    page.keyboard.press("j")
    marks = page.evaluate("attention.trialMarks()")

    assert paused and page.query_selector(".iris-pause") is None
    assert page.evaluate("calls") == ["pause", "resume"]
    assert page.evaluate("keysSeen") == ["j"]
    assert marks["focus_lost"] is True and marks["focus_lost_reasons"] == ["hidden"]
    assert marks["paused_ms"] >= 250
    page.evaluate("attention.trialStart()")  # the next trial starts clean
    assert page.evaluate("attention.trialMarks()") == {"focus_lost": False, "focus_lost_reasons": [], "paused_ms": 0}


def test_without_pause_on_leave_a_blur_only_marks_the_trial(open_page):
    page = open_page("presentation")
    page.evaluate(WATCHER, [False])
    page.evaluate("attention.trialStart()")

    page.evaluate("window.dispatchEvent(new Event('blur'))")
    page.keyboard.press("f")

    assert page.query_selector(".iris-pause") is None and page.evaluate("calls") == []
    assert page.evaluate("keysSeen") == ["f"]
    assert page.evaluate("attention.trialMarks()")["focus_lost_reasons"] == ["blur"]
