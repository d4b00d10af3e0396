"""The questions plugin (before and after the trials) alone: each kind of question as a form field,
the researcher's text shown as text, and the answers as the server expects them."""

import pytest

from tests.js.harness import XSS, declared, no_injection, result, start

pytestmark = pytest.mark.browser

QUESTIONS = [
    {"id": "age", "kind": "number", "prompt": XSS, "required": True, "min": 18, "max": 100},
    {"id": "hand", "kind": "choice", "prompt": "Hand?", "required": True, "options": [XSS, "right"]},
    {"id": "note", "kind": "text", "prompt": "Note?", "required": False, "max_length": 5},
    {"id": "mood", "kind": "scale", "prompt": "Mood?", "required": True, "points": 3, "low_label": "sad",
     "high_label": XSS},
]


def test_it_declares_its_parameters_and_data_as_jspsych_plugins_do(open_page):
    info = declared(open_page("questions"), "IrisQuestionsPlugin")

    assert info["name"] == "iris-questions"
    assert info["parameters"]["questions"]["type"] == "OBJECT"
    assert info["data"]["answers"]["type"] == "OBJECT"


def test_each_kind_is_a_field_its_text_is_text_and_the_answers_come_back_typed(open_page):
    page = open_page("questions")

    start(page, "IrisQuestionsPlugin", questions=QUESTIONS, error=XSS)
    page.wait_for_selector(".iris-questions")
    legends = page.eval_on_selector_all("legend", "ls => ls.map(l => l.textContent)")
    error = page.inner_text(".iris-questions-error")
    labels = page.eval_on_selector_all(".iris-question-option", "ls => ls.map(l => l.textContent.trim())")
    bounds = page.evaluate("['min', 'max', 'required'].map((a) => document.querySelector('[name=q-age]').getAttribute(a))")
    max_length = page.get_attribute("[name=q-note]", "maxlength")
    page.fill("[name=q-age]", "42.5")
    page.click("label:has(input[name=q-hand][value=right])")
    page.click("label:has(input[name=q-mood][value='3'])")
    page.click("#iris-questions-submit")

    data = result(page)
    assert legends == [XSS, "Hand?", "Note? (optional)", "Mood?"]
    assert error == XSS
    assert labels == [XSS, "right", "1 = sad", "2", f"3 = {XSS}"]
    assert bounds == ["18", "100", ""]
    assert max_length == "5"
    assert data["answers"] == {"age": 42.5, "hand": "right", "mood": 3}  # the optional note left out
    no_injection(page)


def test_a_required_question_left_blank_holds_the_form_back(open_page):
    page = open_page("questions")

    start(page, "IrisQuestionsPlugin", questions=QUESTIONS[2:])
    page.wait_for_selector(".iris-questions")
    page.click("#iris-questions-submit")
    page.wait_for_timeout(100)
    still_up = page.query_selector(".iris-questions") is not None
    page.click("label:has(input[name=q-mood][value='1'])")
    page.fill("[name=q-note]", "fine")
    page.click("#iris-questions-submit")

    assert still_up
    assert result(page)["answers"] == {"note": "fine", "mood": 1}
