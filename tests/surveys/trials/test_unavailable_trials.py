"""A trial whose images never loaded in the participant's browser is reported as not shown
(POST /p/<token>/trials/<id>/unavailable): it takes no answer, the session still finishes, and no
score counts it. Here through the participant's JSON endpoints; in Chromium in
test_broken_images_in_chromium.py."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from surveys.scoring.selectors import study_scores
from surveys.trials import services
from surveys.trials.models import Participant, ParticipantStatus, Response, TrialKind
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def consented(study, recruitment_id: str = "p1") -> Participant:
    participant = services.participant_enter(study=study, source="plain", recruitment_id=recruitment_id,
                                             recruitment_data={})
    return services.participant_consent(participant=participant, agreed=True, client_info={})


def mark(client: Client, participant: Participant, trial_id: str):
    return client.post(reverse("trials:unavailable", args=[participant.token, trial_id]))


def answer(client: Client, participant: Participant, trial, choice: int = 0):
    body = {"trial": trial.public_id, "choice": choice, "rt_ms": 400.0, "idempotency_key": trial.public_id}
    return client.post(reverse("trials:respond", args=[participant.token]), json.dumps(body),
                       content_type="application/json")


def served_ids(client: Client, participant: Participant) -> list[str]:
    body = client.get(reverse("trials:trials", args=[participant.token]), {"n": 5}).json()
    return [trial["id"] for trial in body["trials"]]


def test_a_trial_reported_unshowable_is_marked_once_and_served_no_more(client):
    participant = consented(factories.study(factories.researcher(), n_items=4))
    trial = participant.trials.get(index=1)

    first, again = mark(client, participant, trial.public_id), mark(client, participant, trial.public_id)

    assert (first.status_code, again.status_code) == (200, 200)
    trial.refresh_from_db()
    assert trial.unavailable_at is not None
    assert trial.public_id not in served_ids(client, participant)
    body = client.get(reverse("trials:trials", args=[participant.token])).json()
    assert (body["answered"], body["total"]) == (1, 4)  # the progress bar counts it as done
    answer(client, participant, participant.trials.get(index=0))
    page = client.get(reverse("trials:participant", args=[participant.token])).context["runner_config"]
    assert (page["answered"], page["total"]) == (2, 4)  # a reloaded page starts its bar there


def test_an_unshown_trial_takes_no_answer_and_the_session_still_finishes(client):
    study = factories.study(factories.researcher(), n_items=4)
    participant = consented(study)
    unshown = participant.trials.get(index=2)
    mark(client, participant, unshown.public_id)

    refused = answer(client, participant, unshown)
    for trial in participant.trials.exclude(pk=unshown.pk):
        assert answer(client, participant, trial).status_code == 201
    finished = client.post(reverse("trials:finish", args=[participant.token]))

    assert refused.status_code == 409
    assert not Response.objects.filter(trial=unshown).exists()
    assert finished.status_code == 200
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    [score] = study_scores(study=study, resamples=100)
    assert score.trials == 3  # the unshown trial is in no score


def test_an_answered_trial_cannot_be_reported_unshown(client):
    participant = consented(factories.study(factories.researcher(), n_items=2))
    trial = participant.trials.first()
    answer(client, participant, trial)

    response = mark(client, participant, trial.public_id)

    assert response.status_code == 409
    trial.refresh_from_db()
    assert trial.unavailable_at is None


def test_only_the_sessions_own_trials_can_be_reported_and_only_by_post(client):
    study = factories.study(factories.researcher(), n_items=2)
    mine, theirs = consented(study, "me"), consented(study, "them")

    other = mark(client, mine, theirs.trials.first().public_id)
    unknown = mark(client, mine, "no-such-trial")
    fetched = client.get(reverse("trials:unavailable", args=[mine.token, mine.trials.first().public_id]))

    assert (other.status_code, unknown.status_code, fetched.status_code) == (404, 404, 405)
    assert not theirs.trials.filter(unavailable_at__isnull=False).exists()
    assert not mine.trials.filter(unavailable_at__isnull=False).exists()


def test_a_session_that_is_over_takes_no_report(client):
    participant = consented(factories.study(factories.researcher(), n_items=2))
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.FAILED_GATE)

    response = mark(client, participant, participant.trials.first().public_id)

    assert response.status_code == 409
    assert not participant.trials.filter(unavailable_at__isnull=False).exists()


def test_a_session_reporting_too_many_trials_unshowable_ends_as_an_incompatible_device(client):
    # A bot that calls every trial unshowable must not reach the completion code.
    participant = consented(factories.study(factories.researcher(), n_items=8))
    trials = list(participant.trials.order_by("index"))
    for trial in trials[:services.MIN_UNAVAILABLE_ALLOWED]:
        assert mark(client, participant, trial.public_id).status_code == 200
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.CONSENTED

    mark(client, participant, trials[services.MIN_UNAVAILABLE_ALLOWED].public_id)

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.INCOMPATIBLE
    finished = client.post(reverse("trials:finish", args=[participant.token]))
    assert finished.status_code == 409


def test_an_unshown_gate_trial_does_not_hold_the_main_block_back(client):
    study = factories.study(factories.researcher(), n_items=4, design={"gate": {"trials": 2, "pass": 1}})
    participant = consented(study)
    gate = list(participant.trials.filter(kind=TrialKind.QUALIFICATION).order_by("index"))
    assert served_ids(client, participant) == [trial.public_id for trial in gate]

    answer(client, participant, gate[0], choice=gate[0].layout["answer"])
    mark(client, participant, gate[1].public_id)

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.CONSENTED  # one right of the one shown: passed
    served = served_ids(client, participant)
    assert served and all(participant.trials.get(public_id=i).kind == TrialKind.MAIN for i in served)
