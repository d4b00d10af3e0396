"""The rating plugin (similarity, 1-7) alone: what it declares, its keys and its scale's labels."""

import pytest

from tests.js.harness import XSS, declared, images, no_injection, result, start

pytestmark = pytest.mark.browser


def test_it_declares_its_parameters_and_data_as_jspsych_plugins_do(open_page):
    info = declared(open_page("rating"), "IrisRatingPlugin")

    assert info["name"] == "iris-rating"
    parameters = info["parameters"]
    assert parameters["images"] == {"type": "IMAGE", "array": True, "default": None, "required": True}
    assert parameters["scale_labels"] == {"type": "STRING", "array": True, "default": ["very different", "identical"],
                                          "required": False}
    assert parameters["prompt"]["default"] == ""
    assert info["data"]["rating"]["type"] == "INT"
    assert "choice" not in info["data"]


@pytest.mark.parametrize(("key", "rating"), [("1", 1), ("4", 4), ("7", 7)])
def test_keys_1_to_7_rate_and_other_keys_are_ignored(open_page, key, rating):
    page = open_page("rating")

    start(page, "IrisRatingPlugin", images=images("a", "b"))
    page.wait_for_selector(".iris-trial[data-shown]")
    for ignored in ("8", "0", "f", "j"):
        page.keyboard.press(ignored)
    page.wait_for_timeout(50)
    still_up = page.query_selector(".iris-scale") is not None
    page.keyboard.press(key)

    data = result(page)
    assert still_up
    assert (data["rating"], data["response_source"]) == (rating, "key")


def test_it_shows_seven_points_and_the_scale_labels_as_text(open_page):
    page = open_page("rating")

    start(page, "IrisRatingPlugin", images=images("a", "b"), scale_labels=[XSS, "the same"])
    page.wait_for_selector(".iris-trial[data-shown]")
    points = page.eval_on_selector_all(".iris-rating", "buttons => buttons.map(b => b.textContent)")
    ends = page.eval_on_selector_all(".iris-scale-labels span", "spans => spans.map(s => s.textContent)")

    assert points == [str(n) for n in range(1, 8)]
    assert ends == [f"1 = {XSS}", "7 = the same"]
    assert len(page.query_selector_all(".iris-pair-image img")) == 2
    no_injection(page)
