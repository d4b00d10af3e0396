"""The choice plugin (2AFC and matching) alone: what it declares, its keys, the defaults jsPsych fills in."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.js.harness import declared, images, result, start

pytestmark = pytest.mark.browser
IMAGE_PARAMETERS = {"image_retries": 2, "image_retry_ms": 500, "image_timeout_ms": 15000}


def test_it_declares_its_parameters_and_data_as_jspsych_plugins_do(open_page):
    info = declared(open_page("choice"), "IrisChoicePlugin")

    assert (info["name"], info["version"]) == ("iris-choice", "3.0.0")
    parameters = info["parameters"]
    assert parameters["options"] == {"type": "IMAGE", "array": True, "default": None, "required": True}
    assert parameters["query"] == {"type": "IMAGE", "array": False, "default": None, "required": False}
    assert parameters["prompt"] == {"type": "STRING", "array": False, "default": "", "required": False}
    assert parameters["keys"] == {"type": "KEYS", "array": False, "default": None, "required": False}
    assert {name: parameters[name]["default"] for name in IMAGE_PARAMETERS} == IMAGE_PARAMETERS
    assert "mode" not in parameters  # one plugin per screen kind: the rating screen is its own plugin
    assert info["data"]["choice"]["type"] == "INT"
    assert set(info["data"]) == {"choice", "rt", "onset_ms", "offset_ms", "response_ms", "response_source",
                                 "image_px", "dropped_frames",
                                 "unavailable", "failed_images"}


def test_jspsych_refuses_a_trial_without_options(open_page):
    page = open_page("choice")

    start(page, "IrisChoicePlugin", query=images("q")[0])

    with pytest.raises(PlaywrightError, match='value for the "options" parameter'):
        result(page)


@pytest.mark.parametrize(("key", "choice"), [("f", 0), ("j", 1), ("F", 0)])
def test_two_options_answer_to_f_and_j_with_no_query_and_no_prompt_by_default(open_page, key, choice):
    page = open_page("choice")

    start(page, "IrisChoicePlugin", options=images("a", "b"))
    page.wait_for_selector(".iris-trial[data-shown]")
    labels = page.eval_on_selector_all(".iris-key", "keys => keys.map(k => k.textContent)")
    query, prompt = page.query_selector(".iris-query"), page.inner_text(".iris-prompt")
    page.keyboard.press("1")  # not a key of this screen
    page.keyboard.press(key)

    data = result(page)
    assert (labels, query, prompt) == (["F", "J"], None, "")
    assert (data["choice"], data["response_source"]) == (choice, "key")
    assert data["response_ms"] >= data["onset_ms"] > 0 and data["offset_ms"] > data["onset_ms"]


def test_more_options_answer_to_1_to_n_and_other_keys_are_ignored(open_page):
    page = open_page("choice")

    start(page, "IrisChoicePlugin", query=images("q")[0], options=images("a", "b", "c"))
    page.wait_for_selector(".iris-trial[data-shown]")
    labels = page.eval_on_selector_all(".iris-key", "keys => keys.map(k => k.textContent)")
    for ignored in ("f", "j", "4", "0"):
        page.keyboard.press(ignored)
    page.wait_for_timeout(50)
    still_up = page.query_selector(".iris-options.many") is not None
    page.keyboard.press("3")

    assert labels == ["1", "2", "3"] and still_up
    assert result(page)["choice"] == 2

