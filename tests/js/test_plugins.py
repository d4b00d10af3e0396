"""What every IRIS plugin promises, each tested alone on a page with only jsPsych and that plugin:
text stays text, nothing is shown before its images have decoded, an image that never loads means the
trial is not shown (and holds no answer), and no answer counts before the screen is up."""

from dataclasses import dataclass

import pytest

from tests.js.harness import XSS, hold_frames, images, no_injection, result, start

pytestmark = pytest.mark.browser
FAST_RETRY = {"image_retry_ms": 20}


@dataclass(frozen=True)
class Kind:
    page: str  # which scripts the page holds (harness.SCRIPTS)
    plugin: str
    answer: str  # the element that answers
    field: str  # the data field that holds the answer
    value: int
    early_key: str | None  # a key that would answer (None: the screen takes clicks only)
    late_key: str | None
    late_value: int | None

    def params(self, *names: str, **extra) -> dict:
        urls = images(*names)
        shape = {"choice": {"query": urls[0], "options": urls[1:]}, "rating": {"images": urls[:2]},
                 "timed": {"stimulus": urls[0], "labels": ["cat", "dog", "car"],
                           "fixation_ms": 30, "stimulus_ms": 30, "mask_ms": 30}}[self.page]
        return {**shape, **FAST_RETRY, **extra}


KINDS = [
    Kind("choice", "IrisChoicePlugin", ".iris-option[data-choice='1']", "choice", 1, "f", "j", 1),
    Kind("rating", "IrisRatingPlugin", ".iris-rating[data-rating='5']", "rating", 5, "2", "6", 6),
    Kind("timed", "IrisTimedPlugin", ".iris-category[data-choice='1']", "choice", 1, None, None, None),
]
ids = [kind.page for kind in KINDS]


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_a_prompt_written_as_markup_is_shown_as_text(open_page, kind):
    page = open_page(kind.page)

    start(page, kind.plugin, **kind.params("q", "a", "b", prompt=XSS))

    page.wait_for_selector(".iris-trial[data-shown]")
    assert page.inner_text(".iris-prompt") == XSS
    no_injection(page)


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_the_screen_appears_only_once_every_image_has_decoded_a_failed_one_tried_again(open_page, kind):
    page = open_page(kind.page)

    start(page, kind.plugin, **kind.params("flaky-q", "flaky-a", "b"))
    page.wait_for_selector(".iris-trial[data-shown]")
    page.click(kind.answer)

    data = result(page)
    assert data[kind.field] == kind.value and data["unavailable"] is False
    seen = page.evaluate("trialsSeen")
    assert len(seen) == 1 and seen[0] and all(seen[0])  # every image decoded when the screen went up
    assert page.server.image_requests["flaky-q.png"] == 2


@pytest.mark.parametrize("fault", ["broken", "corrupt"])
@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_an_image_that_never_loads_ends_the_trial_unshown_and_unanswered(open_page, kind, fault):
    page = open_page(kind.page)

    start(page, kind.plugin, **kind.params(f"{fault}-q", "a", "b", image_retries=2))

    data = result(page)
    assert data["unavailable"] is True
    assert data["failed_images"] == images(f"{fault}-q")
    assert data[kind.field] is None and data["rt"] is None and data["onset_ms"] is None
    assert page.evaluate("trialsSeen") == []  # nothing of it was ever on the page
    assert page.server.image_requests[f"{fault}-q.png"] == 3  # the first try and two more


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_no_touch_or_key_counts_before_the_frame_that_shows_the_screen(open_page, kind):
    page = open_page(kind.page)
    hold_frames(page)

    start(page, kind.plugin, **kind.params("q", "a", "b"))
    page.wait_for_selector(".iris-trial", state="attached")
    page.dispatch_event(kind.answer, "pointerup")  # on the page, but not yet painted
    if kind.early_key:
        page.keyboard.press(kind.early_key)
    page.wait_for_timeout(50)
    assert page.evaluate("document.querySelector('.iris-trial[data-shown]')") is None
    page.evaluate("releaseFrames()")
    page.wait_for_selector(".iris-trial[data-shown]")
    assert page.query_selector(".iris-trial") is not None  # nothing early answered
    if kind.late_key:
        page.keyboard.press(kind.late_key)
    else:
        page.click(kind.answer)

    assert result(page)[kind.field] == (kind.late_value if kind.late_key else kind.value)


@pytest.mark.parametrize("kind", KINDS, ids=ids)
def test_it_records_when_the_screen_was_painted_and_answered(open_page, kind):
    page = open_page(kind.page)

    start(page, kind.plugin, **kind.params("q", "a", "b"))
    page.wait_for_selector(".iris-trial[data-shown]")
    page.wait_for_timeout(200)
    page.click(kind.answer)

    data = result(page)
    assert data[kind.field] == kind.value
    assert data["response_source"] == "mouse" and data["failed_images"] == []
    assert 0 < data["onset_ms"] < data["response_ms"]
    assert data["rt"] == pytest.approx(data["response_ms"] - data["onset_ms"])
    assert data["rt"] >= 200 - 20
    assert page.query_selector(".iris-trial") is None  # the screen is gone once answered
    assert page.problems == []
