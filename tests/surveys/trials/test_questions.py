"""The study's questions before and after the trials, and its debrief: the question spec, a
participant's answers as posted over HTTP (refused ones store nothing), where the answers show up
(the API's participant detail, the responses CSV) and the debrief on the last page."""

import io
import json

import pandas as pd
import pytest
from django.urls import reverse

from surveys.common.specs import SpecError
from surveys.studies.design import StudyDesign
from surveys.studies.questions import questions_from_list
from surveys.studies.services import study_update
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories

pytestmark = pytest.mark.django_db

BEFORE = [
    {"id": "age", "kind": "number", "prompt": "How old are you?", "min": 18, "max": 100},
    {"id": "vision", "kind": "choice", "prompt": "Normal vision?", "options": ["yes", "no"]},
    {"id": "note", "kind": "text", "prompt": "Anything to add?", "max_length": 20, "required": False},
]
AFTER = [{"id": "difficulty", "kind": "scale", "prompt": "How hard?", "points": 5, "low_label": "easy",
          "high_label": "hard"}]


def questioned_study(**fields):
    study = factories.study(factories.researcher(), n_items=2,
                            design={"questions_before": BEFORE, "questions_after": AFTER})
    return study_update(study=study, editor=study.owner, **fields) if fields else study


def enter(client, study) -> Participant:
    response = client.post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "p1"})
    token = response["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return Participant.objects.get(token=token)


def post_answers(client, participant, phase, answers):
    return client.post(reverse("trials:answers", args=[participant.token]),
                       data=json.dumps({"phase": phase, "answers": answers}), content_type="application/json")


def test_a_design_with_questions_survives_a_json_round_trip():
    design = StudyDesign.from_dict({"questions_before": BEFORE, "questions_after": AFTER}, paradigm="2afc")

    assert StudyDesign.from_dict(json.loads(json.dumps(design.to_dict())), paradigm="2afc") == design
    assert [q.kind for q in design.questions_before] == ["number", "choice", "text"]
    assert StudyDesign.from_dict({}, paradigm="2afc").questions_before == ()


@pytest.mark.parametrize(("question", "named"), [
    ({"id": "a", "kind": "choice", "prompt": "?", "options": ["only"]}, "Question a options"),
    ({"id": "a", "kind": "number", "prompt": "?", "min": 5, "max": 1}, "Question a min"),
    ({"id": "a", "kind": "scale", "prompt": "?", "points": 50}, "Question a points"),
    ({"id": "a", "kind": "text", "prompt": "", "max_length": 5}, "Question a prompt"),
    ({"id": "a", "kind": "text", "prompt": "?", "options": ["x"]}, "Unknown questions_before\\[0\\] options"),
    ({"id": "A b", "kind": "text", "prompt": "?"}, "questions_before\\[0\\] id"),
    ({"id": "a", "kind": "essay", "prompt": "?"}, "questions_before\\[0\\] kind"),
])
def test_a_bad_question_is_refused_naming_it(question, named):
    with pytest.raises(SpecError, match=named):
        questions_from_list([question], field="questions_before")


def test_a_question_id_is_used_once_per_study():
    with pytest.raises(SpecError, match="before and after both have: age"):
        StudyDesign.from_dict({"questions_before": BEFORE, "questions_after": BEFORE[:1]}, paradigm="2afc")


@pytest.mark.parametrize(("answers", "named"), [
    ({"age": 30, "vision": "yes", "shoe_size": 42}, "No such question here: shoe_size"),
    ({"age": 150, "vision": "yes"}, "answer to age"),
    ({"age": "thirty", "vision": "yes"}, "answer to age"),
    ({"age": 30, "vision": "yes", "note": "x" * 21}, "answer to note"),
    ({"age": 30}, "Question vision needs an answer"),
    ({"age": 30, "vision": "maybe"}, "answer to vision"),
])
def test_a_bad_answer_is_refused_naming_the_question_and_nothing_is_stored(client, answers, named):
    participant = enter(client, questioned_study())

    response = post_answers(client, participant, "before", answers)

    assert response.status_code == 400 and named in response.json()["error"]
    participant.refresh_from_db()
    assert participant.answers == {}


def test_an_out_of_range_rating_after_the_trials_is_refused(client):
    participant = enter(client, questioned_study())

    response = post_answers(client, participant, "after", {"difficulty": 6})

    assert response.status_code == 400 and "difficulty" in response.json()["error"]
    assert Participant.objects.get(pk=participant.pk).answers == {}


def test_answers_are_stored_and_the_page_asks_no_more(client):
    participant = enter(client, questioned_study())
    page = client.get(reverse("trials:participant", args=[participant.token])).context["runner_config"]
    assert [q["id"] for q in page["questionsBefore"]] == ["age", "vision", "note"]

    response = post_answers(client, participant, "before", {"age": 30, "vision": "no", "note": ""})

    assert response.status_code == 201
    assert Participant.objects.get(pk=participant.pk).answers == {"before": {"age": 30, "vision": "no"}}
    again = client.get(reverse("trials:participant", args=[participant.token])).context["runner_config"]
    assert again["questionsBefore"] == [] and [q["id"] for q in again["questionsAfter"]] == ["difficulty"]


def test_a_finished_session_answers_no_more(client):
    participant = enter(client, questioned_study())
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.COMPLETED)

    response = post_answers(client, participant, "after", {"difficulty": 3})

    assert response.status_code == 409 and Participant.objects.get(pk=participant.pk).answers == {}


def test_the_answers_are_in_the_api_detail_and_a_column_each_in_the_responses_csv(client, api_as):
    study = questioned_study()
    participant = enter(client, study)
    post_answers(client, participant, "before", {"age": 41, "vision": "yes", "note": "=SUM(A1)"})
    post_answers(client, participant, "after", {"difficulty": 2})
    trial = participant.trials.first()
    client.post(reverse("trials:respond", args=[participant.token]), content_type="application/json",
                data=json.dumps({"trial": trial.public_id, "rt_ms": 400, "idempotency_key": trial.public_id,
                                 "choice": 0}))
    api = api_as(study.owner)

    detail = api.get(f"/api/studies/{study.pk}/participants/{participant.pk}/").json()
    csv = api.get(f"/api/studies/{study.pk}/responses.csv")
    frame = pd.read_csv(io.BytesIO(b"".join(csv.streaming_content)))

    assert detail["answers"] == {"before": {"age": 41, "vision": "yes", "note": "=SUM(A1)"}, "after": {"difficulty": 2}}
    assert list(frame.columns[-4:]) == ["q_age", "q_vision", "q_note", "q_difficulty"]
    row = frame.iloc[0]
    assert (row["q_age"], row["q_vision"], row["q_note"], row["q_difficulty"]) == (41, "yes", "'=SUM(A1)", 2)


def test_the_debrief_is_shown_rendered_and_sanitised_on_the_last_page(client):
    study = questioned_study(debrief_text="**Thank you.** The images were made by a network."
                                          "<script>alert(1)</script>")
    participant = enter(client, study)
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.COMPLETED)

    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()

    assert '<section class="iris-instructions" id="debrief"><p><strong>Thank you.</strong>' in page
    assert "<script>alert(1)" not in page


def test_questions_freeze_with_the_design(client, api_as):
    study = questioned_study()
    enter(client, study)

    response = api_as(study.owner).patch(f"/api/studies/{study.pk}/design/",
                                         {"design": {"questions_before": []}}, format="json")

    assert response.status_code == 409
    study.refresh_from_db()
    assert [q["id"] for q in study.design["questions_before"]] == ["age", "vision", "note"]


@pytest.mark.parametrize(("bounds", "value", "message"), [
    ({"min": 0}, -1, "The answer to n must be a number of at least 0."),
    ({"max": 10}, 11, "The answer to n must be a number of at most 10."),
    ({"min": 0.5, "max": 1.5}, 2, "The answer to n must be a number from 0.5 to 1.5."),
])
def test_a_number_out_of_bounds_says_which_bounds(bounds, value, message):
    question = questions_from_list([{"id": "n", "kind": "number", "prompt": "?", **bounds}], field="questions_after")

    with pytest.raises(SpecError, match=message):
        question[0].answer(value)
