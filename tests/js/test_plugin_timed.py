"""The timed plugin (classification) alone: fixation, image and mask locked to frames, then a grid of
categories that takes clicks and keys only once it is up; durations in whole frames."""

import pytest

from tests.js.harness import XSS, declared, images, no_injection, result, start

pytestmark = pytest.mark.browser
# Each step's data-show value, in the order the stage shows them; read on every animation frame.
WATCH_STAGE = """() => {
  window.stages = [];
  const look = () => {
    const stage = document.querySelector(".iris-stage");
    const now = !stage ? null : stage.hidden ? "grid" : stage.dataset.show;
    if (now && stages[stages.length - 1] !== now) stages.push(now);
    if (now !== "grid") requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
}"""


def test_it_declares_its_parameters_and_data_as_jspsych_plugins_do(open_page):
    info = declared(open_page("timed"), "IrisTimedPlugin")

    parameters = info["parameters"]
    assert info["name"] == "iris-timed"
    assert parameters["stimulus"] == {"type": "IMAGE", "array": False, "default": None, "required": True}
    assert parameters["labels"] == {"type": "STRING", "array": True, "default": None, "required": True}
    assert {name: parameters[name]["default"] for name in ("fixation_ms", "stimulus_ms", "mask_ms")} == {
        "fixation_ms": 300, "stimulus_ms": 300, "mask_ms": 300}
    assert {"fixation_onset_ms", "mask_offset_ms", "grid_onset_ms", "frame_ms",
            "stimulus_longest_frame_ms"} <= set(info["data"])


def test_fixation_image_and_mask_follow_each_other_on_the_frame_grid_then_the_grid_answers(open_page):
    page = open_page("timed")
    page.evaluate(WATCH_STAGE)

    start(page, "IrisTimedPlugin", stimulus=images("x")[0], labels=["cat", "dog", "car"],
          fixation_ms=100, stimulus_ms=150, mask_ms=100)
    page.wait_for_selector(".iris-trial[data-shown]")
    page.click(".iris-category[data-choice='2']")

    data = result(page)
    frame = data["frame_ms"]
    assert page.evaluate("stages") == ["none", "fixation", "stimulus", "mask", "grid"]
    assert data["choice"] == 2
    assert 150 - frame / 2 - 1 <= data["offset_ms"] - data["onset_ms"] <= 150 + data["stimulus_longest_frame_ms"]
    assert frame >= 1000 / 240  # a refresh period, not two frames run back to back
    assert data["onset_ms"] - data["fixation_onset_ms"] >= 100 - frame / 2 - 1
    assert data["grid_onset_ms"] == data["mask_offset_ms"] >= data["offset_ms"] + 100 - frame / 2 - 1
    assert data["rt"] == pytest.approx(data["response_ms"] - data["onset_ms"])


def test_the_category_labels_and_prompt_are_shown_as_text(open_page):
    page = open_page("timed")

    start(page, "IrisTimedPlugin", stimulus=images("x")[0], labels=[XSS, "dog & <b>cat</b>"], prompt=XSS,
          fixation_ms=0, stimulus_ms=0, mask_ms=0)
    page.wait_for_selector(".iris-trial[data-shown]")
    labels = page.eval_on_selector_all(".iris-category .iris-label", "labels => labels.map(b => b.textContent)")

    assert labels == [XSS, "dog & <b>cat</b>"]
    assert page.inner_text(".iris-prompt") == XSS
    assert page.query_selector(".iris-categories b") is None
    no_injection(page)


def test_the_grid_answers_to_keys_once_it_is_up_and_each_button_shows_its_key(open_page):
    page = open_page("timed")

    start(page, "IrisTimedPlugin", stimulus=images("x")[0], labels=["cat", "dog", "car"],
          fixation_ms=0, stimulus_ms=50, mask_ms=0)
    page.wait_for_selector(".iris-trial[data-shown]")
    keys = page.eval_on_selector_all(".iris-category .iris-key", "keys => keys.map(k => k.textContent)")
    page.keyboard.press("4")  # no fourth category
    page.keyboard.press("3")

    data = result(page)
    assert keys == ["1", "2", "3"]
    assert (data["choice"], data["response_source"]) == (2, "key")
    assert data["rt"] == pytest.approx(data["response_ms"] - data["onset_ms"])


def test_durations_are_rounded_to_whole_frames_of_the_given_refresh(open_page):
    page = open_page("timed")

    # A 10 ms refresh is given (as the runner passes the one measured at the start): 34 ms is 3 frames,
    # 0 ms of fixation is no fixation, and an image is up for at least one frame.
    start(page, "IrisTimedPlugin", stimulus=images("x")[0], labels=["a", "b"], frame_ms=10,
          fixation_ms=0, stimulus_ms=34, mask_ms=16)
    page.wait_for_selector(".iris-trial[data-shown]")
    page.keyboard.press("1")

    data = result(page)
    assert (data["fixation_frames"], data["stimulus_frames"], data["mask_frames"]) == (0, 3, 2)
    assert data["stimulus_frames_ms"] == pytest.approx(30)
    assert data["onset_ms"] == data["fixation_onset_ms"]  # no fixation frame
    assert data["dropped_frames"] >= 0 and data["image_px"] > 0


def test_a_stalled_frame_is_counted_as_dropped(open_page):
    page = open_page("timed")
    # The page's main thread blocks for 120 ms once the image is up: the display misses frames.
    page.evaluate("""() => new MutationObserver(() => {
      const stage = document.querySelector(".iris-stage[data-show='stimulus']");
      if (stage && !window.stalled) { window.stalled = true; const end = performance.now() + 120; while (performance.now() < end); }
    }).observe(document.body, { subtree: true, attributes: true })""")

    start(page, "IrisTimedPlugin", stimulus=images("x")[0], labels=["a", "b"], fixation_ms=50, stimulus_ms=300,
          mask_ms=50)
    page.wait_for_selector(".iris-trial[data-shown]")
    page.keyboard.press("1")

    data = result(page)
    assert data["stimulus_longest_frame_ms"] >= 100
    assert data["dropped_frames"] >= round(100 / data["frame_ms"]) - 1
