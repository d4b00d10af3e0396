"""A participant in headless Chromium answers the study's question before the trials and its question
after them, reads the researcher's debrief on the last page, and the responses CSV carries the answers."""

import io

import pandas as pd
import pytest

from surveys.studies.services import study_update
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import Script, answer_one

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

DESIGN = {
    "questions_before": [{"id": "age", "kind": "number", "prompt": "How old are you?", "min": 18, "max": 100},
                         {"id": "hand", "kind": "choice", "prompt": "Which hand <b>do you</b> write with?",
                          "options": ["left", "right"]}],
    "questions_after": [{"id": "difficulty", "kind": "scale", "prompt": "How hard was it?", "points": 5,
                         "low_label": "easy", "high_label": "hard"}],
}


def test_a_participant_answers_before_and_after_the_trials_and_reads_the_debrief(live_server, api_as, shared_chromium):
    study = factories.study(factories.researcher(), n_items=2, design=DESIGN,
                            completion_url="https://example.org/done?cc={code}")
    study = study_update(study=study, editor=study.owner, debrief_text="**The images** were made by a *network*.")
    script = Script(decide=lambda trial: 0)
    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        script.watch(page)
        page.goto(f"{live_server.url}/s/{study.public_id}/")
        page.click("#begin")
        page.click("#agree")
        page.wait_for_selector(".iris-questions", state="visible", timeout=15_000)
        prompt = page.inner_text("[data-question=hand] legend")  # the researcher's text, shown as text
        page.fill("input[name=q-age]", "150")
        page.click("label:has(input[name=q-hand][value=right])")
        page.click("#iris-questions-submit")
        out_of_range = page.evaluate("document.querySelector('input[name=q-age]').validity.rangeOverflow")
        # A page whose form checks were tampered with: the server refuses, and the page asks again.
        page.evaluate("document.querySelector('input[name=q-age]').removeAttribute('max')")
        page.click("#iris-questions-submit")
        refusal = page.inner_text(".iris-questions-error", timeout=15_000)
        page.fill("input[name=q-age]", "34")
        page.click("label:has(input[name=q-hand][value=right])")
        page.click("#iris-questions-submit")
        page.click("#jspsych-instructions-next", timeout=15_000)
        for _ in range(Participant.objects.get(study=study).trials.count()):
            page.wait_for_selector(".iris-trial", state="visible", timeout=20_000)
            answer_one(page, script)
        page.wait_for_selector("[data-question=difficulty]", state="visible", timeout=20_000)
        page.click("label:has(input[name=q-difficulty][value='4'])")
        page.click("#iris-questions-submit")
        page.wait_for_selector("#debrief", state="visible", timeout=20_000)
        debrief = page.inner_html("#debrief")
        page.wait_for_timeout(2000)  # with a debrief, the page does not send the participant away
        still_here = page.url.startswith(live_server.url)
    assert script.script_errors() == []
    assert prompt == "Which hand <b>do you</b> write with?"
    assert out_of_range is True  # the browser held the first try back
    assert refusal == "The answer to age must be a number from 18 to 100."
    assert "<strong>The images</strong>" in debrief and still_here
    participant = Participant.objects.get(study=study)
    assert participant.status == ParticipantStatus.COMPLETED
    assert participant.answers == {"before": {"age": 34, "hand": "right"}, "after": {"difficulty": 4}}
    csv = api_as(study.owner).get(f"/api/studies/{study.pk}/responses.csv")
    frame = pd.read_csv(io.BytesIO(b"".join(csv.streaming_content)))
    assert len(frame) == 2
    assert frame[["q_age", "q_hand", "q_difficulty"]].values.tolist() == [[34, "right", 4]] * 2
