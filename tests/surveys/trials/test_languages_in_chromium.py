"""A German study taken in headless Chromium whose browser asks for English: every screen a participant
meets (start, consent, full screen, the viewing-distance calibration, the questions, the instructions,
a trial with its prompt and the pause when they look away, practice feedback, the end of the practice,
the last page) is in German, with no English words left in it."""

import re

import pytest

from surveys.trials.models import Participant, ParticipantStatus, Response, TrialKind
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import CONTINUE, Script

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
# English words that would betray a string left untranslated (German shares none of them).
ENGLISH = re.compile(r"\b(the|and|you|your|is|to|Continue|Progress|Start|Previous|Next|Thank|Sorry|Full screen|"
                     r"click|press|card|space bar|measurements|paused|Right|Not quite)\b", re.IGNORECASE)
DESIGN = {"practice": True, "practice_trials": 1, "fullscreen": True, "pause_on_leave": True, "calibrate": True,
          "stimulus_deg": 4,
          "questions_before": [{"id": "note", "kind": "text", "prompt": "Möchten Sie etwas sagen?", "required": False}]}
PRESS_SPACE = """() => {
  const display = document.querySelector(".jspsych-display-element");
  for (const type of ["keydown", "keyup"]) display.dispatchEvent(new KeyboardEvent(type, { key: " ", code: "Space", bubbles: true }));
}"""


def shown(page, selector: str) -> str:
    page.wait_for_selector(selector, state="visible", timeout=20_000)
    return page.inner_text("body")


def calibrate(page, screens: dict) -> None:
    """The card question, the card (confirmed as it is) and three blind-spot presses, however far."""
    screens["card question"] = shown(page, ".iris-message")
    page.click(f"{CONTINUE} >> nth=0")
    screens["card"] = shown(page, "#page-size")
    page.click("#end_resize_phase")
    screens["blind spot"] = shown(page, "#blind-spot")
    for _ in range(3):
        page.wait_for_selector("#virtual-chinrest-circle")
        page.evaluate(PRESS_SPACE)
        page.wait_for_timeout(150)
        page.evaluate(PRESS_SPACE)


def first_trial(page, screens: dict) -> str:
    """The practice trial, left once (the pause screen), then answered; its first option's label."""
    screens["trial"] = shown(page, ".iris-trial[data-shown]")
    label = page.get_attribute(".iris-option >> nth=0", "aria-label")
    page.evaluate("window.dispatchEvent(new Event('blur'))")
    screens["pause"] = shown(page, ".iris-pause")
    page.click(".iris-pause button")
    page.click(".iris-option[data-choice='0']")
    screens["feedback"] = shown(page, ".iris-feedback")
    return label


def test_a_german_study_speaks_german_from_the_first_page_to_the_last(live_server, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2, language="de", design=DESIGN,
                            completion_url="https://example.org/done?cc={code}")
    script, screens = Script(decide=lambda trial: 0), {}
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page(locale="en-US", extra_http_headers={"Accept-Language": "en-US,en"})
        script.watch(page)
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        screens["start"] = shown(page, "#begin")
        page.click("#begin")
        screens["consent"] = shown(page, "#agree")
        page.click("#agree")
        screens["full screen"] = shown(page, "#jspsych-fullscreen-btn")
        page.click("#jspsych-fullscreen-btn")
        calibrate(page, screens)
        screens["questions"] = shown(page, ".iris-questions")
        page.click("#iris-questions-submit")
        screens["instructions"] = shown(page, "#jspsych-instructions-next")
        page.click("#jspsych-instructions-next")
        option_label = first_trial(page, screens)
        screens["practice over"] = shown(page, CONTINUE)
        page.click(CONTINUE)
        for _ in range(Participant.objects.get(study=study).trials.count() - 1):
            page.wait_for_selector(".iris-trial[data-shown]", timeout=20_000)
            page.click(".iris-option[data-choice='0']")
            page.wait_for_selector(".iris-trial[data-shown]", state="detached", timeout=20_000)
        screens["end"] = shown(page, "#completion-code")

    assert script.script_errors() == []
    assert Participant.objects.get(study=study).status == ParticipantStatus.COMPLETED
    assert {name: ENGLISH.findall(text) for name, text in screens.items() if ENGLISH.search(text)} == {}
    german = {"start": "Willkommen", "consent": "Ich stimme zu und möchte teilnehmen", "full screen": "Vollbild",
              "card question": "Ich habe eine Karte", "card": "Hier klicken, wenn das Bild die richtige Größe hat",
              "blind spot": "Leertaste", "questions": "Weiter", "instructions": "Starten",
              "trial": "Welches der beiden unteren Bilder ist dem oberen Bild ähnlicher?",
              "pause": "Zurück zum Vollbild und weiter", "practice over": "Die Übung ist vorbei.",
              "end": "Ihr Code lautet:"}
    assert {name: word for name, word in german.items() if word not in screens[name]} == {}
    assert "Fortschritt" in screens["trial"] and "Verbleibende Messungen:" in screens["blind spot"]
    practice = Response.objects.get(trial__participant__study=study, trial__kind=TrialKind.PRACTICE)
    feedback = "Richtig!" if practice.correct else "Nicht ganz."
    assert feedback in screens["feedback"]
    assert option_label == "Option 1"
