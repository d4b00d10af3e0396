"""A researcher erases a participant of their own study on request, in admin or over the API: the
session leaves the scores, the report and the CSV, a record that names nobody is kept, and nobody
erases another researcher's participants."""

import csv
import io

import pytest
from django.urls import reverse

from surveys.trials.models import DataErasure, ErasureActor, Participant, Response
from tests.surveys import factories
from tests.surveys.admin_coverage import submits
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/trials/participant/"
REASON = "Asked by email on 3 May to withdraw"


def study_of(owner, *, n: int = 3):
    """A study whose first n-1 participants answer everything right and whose last gets everything wrong."""
    study = factories.study(owner, n_items=4)
    [condition] = study.conditions.values_list("pk", flat=True)
    planting.crowd(study, accuracy={condition: 1.0}, n=n - 1)
    wrong = planting.participant(study, name=f"prolific:pid-{study.pk}-wrong")
    planting.answers(study, wrong, correct=lambda *_: False)
    return study, wrong


def score(api, study) -> tuple[int, float]:
    [condition] = api.get(f"/api/studies/{study.pk}/report/").json()["conditions"]
    return condition["participants"], condition["score"]


def csv_ids(api, study) -> set[str]:
    body = b"".join(api.get(f"/api/studies/{study.pk}/responses.csv").streaming_content).decode()
    return {row["recruitment_id"] for row in csv.DictReader(io.StringIO(body))}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@submits("trials.participant", "erase_participants")
def test_a_researcher_erases_a_participant_in_admin_with_a_reason_and_the_results_follow(
        client, researcher, other_researcher, api_as):
    study, wrong = study_of(researcher)
    theirs, their_participant = study_of(other_researcher)
    api = api_as(researcher)
    assert score(api, study) == (3, pytest.approx(2 / 3))
    client.force_login(researcher)
    selected = {"action": "erase_participants", "_selected_action": [wrong.pk]}

    confirm = client.post(CHANGELIST, selected)
    no_reason = client.post(CHANGELIST, {**selected, "erase": "yes", "reason": " "})
    names_them = client.post(CHANGELIST, {**selected, "erase": "yes", "reason": f"request from {wrong.recruitment_id}"},
                             follow=True)
    assert confirm.status_code == 200 and wrong.recruitment_id in confirm.content.decode()
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    assert any("names the participant" in message for message in messages_of(names_them))
    assert Participant.objects.filter(pk=wrong.pk).exists() and not DataErasure.objects.exists()
    done = client.post(CHANGELIST, {**selected, "erase": "yes", "reason": REASON}, follow=True)
    not_mine = client.post(CHANGELIST, {"action": "erase_participants", "_selected_action": [their_participant.pk],
                                        "erase": "yes", "reason": REASON}, follow=True)

    entry = DataErasure.objects.get()
    assert any(entry.reference in message for message in messages_of(done))
    assert (entry.study, entry.actor, entry.author, entry.reason, entry.responses) == (
        study, ErasureActor.RESEARCHER, researcher, REASON, 4)
    assert not Participant.objects.filter(pk=wrong.pk).exists()
    assert score(api, study) == (2, 1.0)
    assert wrong.recruitment_id not in csv_ids(api, study)
    assert any("nothing was erased" in message for message in messages_of(not_mine))
    assert Participant.objects.filter(pk=their_participant.pk).exists()
    assert Response.objects.filter(trial__participant__study=theirs).count() == 12
    # The record is listed read-only; nothing in admin deletes a participant without one.
    record = client.get(reverse("admin:trials_dataerasure_change", args=[entry.pk])).content.decode()
    assert entry.reference in record and REASON in record
    assert "delete_selected" not in client.get(CHANGELIST).content.decode()
    client.post(reverse("admin:trials_participant_delete", args=[study.participants.first().pk]), {"post": "yes"})
    assert study.participants.count() == 2
    # Nor does the record go with its study: a study that has one stays.
    client.post("/admin/studies/study/", {"action": "delete_selected", "_selected_action": [study.pk], "post": "yes"})
    assert DataErasure.objects.get() == entry and study.participants.count() == 2


def test_a_superuser_cannot_erase_participants_of_a_study_they_do_not_own(client, researcher, superuser):
    study, wrong = study_of(researcher)
    client.force_login(superuser)

    refused = client.post(CHANGELIST, {"action": "erase_participants", "_selected_action": [wrong.pk],
                                       "erase": "yes", "reason": REASON}, follow=True)

    assert any("Only the study's owner" in message for message in messages_of(refused))
    assert Participant.objects.filter(pk=wrong.pk).exists() and not DataErasure.objects.exists()


def test_the_owner_erases_a_participant_over_the_api_and_nobody_else_can(researcher, other_researcher, api_as):
    study, wrong = study_of(researcher)
    owner, stranger = api_as(researcher), api_as(other_researcher)
    erase = f"/api/studies/{study.pk}/participants/{wrong.pk}/erase/"

    by_stranger = stranger.post(erase, {"reason": REASON}, format="json")
    unexplained = owner.post(erase, {"reason": ""}, format="json")
    misspelt = owner.post(erase, {"reason": REASON, "reasn": "x"}, format="json")
    assert (by_stranger.status_code, unexplained.status_code, misspelt.status_code) == (404, 400, 400)
    assert Participant.objects.filter(pk=wrong.pk).exists() and not DataErasure.objects.exists()
    assert score(owner, study) == (3, pytest.approx(2 / 3))
    erased = owner.post(erase, {"reason": REASON}, format="json")
    again = owner.post(erase, {"reason": REASON}, format="json")

    assert erased.status_code == 201
    body = erased.json()
    assert (body["actor"], body["author"], body["reason"], body["responses"], body["scope"]) == (
        "researcher", researcher.username, REASON, 4, "everything")
    assert again.status_code == 404
    assert score(owner, study) == (2, 1.0)
    assert wrong.recruitment_id not in csv_ids(owner, study)
    assert [row["reference"] for row in owner.get(f"/api/studies/{study.pk}/erasures/").json()] == [body["reference"]]
    assert stranger.get(f"/api/studies/{study.pk}/erasures/").status_code == 404
