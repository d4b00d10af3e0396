"""A study whose design takes N participants tells its owner once the N-th of them completes it
(notification ``study.filled``): participants take it through the participant endpoints, and the
researcher's own pilot sessions do not count."""

import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from surveys.generation.models import Notification, NotificationEvent
from surveys.studies.notifications import study_notify
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(researcher):
    researcher.email = "ada@lab.example"
    researcher.save()
    return researcher


def started(client: Client, study) -> Participant:
    token = client.post(reverse("trials:start", args=[study.public_id]))["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return Participant.objects.get(token=token)


def finished(client: Client, participant: Participant) -> Participant:
    for trial in participant.trials.all():
        client.post(reverse("trials:respond", args=[participant.token]), content_type="application/json",
                    data=json.dumps({"trial": trial.public_id, "choice": 0, "rt_ms": 600.0,
                                     "idempotency_key": trial.public_id}))
    assert client.post(reverse("trials:finish", args=[participant.token])).status_code == 200
    participant.refresh_from_db()
    return participant


def test_the_owner_is_mailed_once_when_the_last_place_is_completed(owner, inline_tasks,
                                                                   django_capture_on_commit_callbacks):
    study = factories.study(owner, n_items=2, design={"participants_per_condition": 2})
    first, second, pilot = Client(), Client(), Client()
    pilot.force_login(owner)
    sessions = [(first, started(first, study)), (second, started(second, study))]
    pilot_session = Participant.objects.get(token=pilot.get(reverse("trials:preview", args=[study.public_id]))[
        "Location"].rstrip("/").split("/")[-1])
    pilot.post(reverse("trials:consent", args=[pilot_session.token]), {"agree": "yes"})

    with django_capture_on_commit_callbacks(execute=True):
        finished(pilot, pilot_session)
        finished(*sessions[0])
    before_the_last = list(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        last = finished(*sessions[1])

    assert before_the_last == []
    assert last.status == ParticipantStatus.COMPLETED
    [message] = mail.outbox
    assert (message.to, message.subject) == (
        ["ada@lab.example"], f"[IRIS] Study {study.name!r} has every participant its design asks for")
    assert message.body.startswith(f"{message.subject[7:]}.\n\n2 participants completed it; it admits nobody else.")
    assert f"/admin/studies/study/{study.pk}/change/" in message.body


def test_a_study_without_a_cap_never_fills(owner, inline_tasks, django_capture_on_commit_callbacks):
    study = factories.study(owner, n_items=2)
    client = Client()

    with django_capture_on_commit_callbacks(execute=True):
        finished(client, started(client, study))

    assert mail.outbox == []


def test_a_study_closed_on_its_interval_target_is_told_with_the_reason(owner, study, inline_tasks,
                                                                      django_capture_on_commit_callbacks):
    """What closes a study on reaching its target calls this; the event is the webhook's study.target_reached."""
    with django_capture_on_commit_callbacks(execute=True):
        study_notify(study=study, event=NotificationEvent.STUDY_TARGET_REACHED,
                     detail="Every condition's 95% CI is narrower than 0.1.")

    [message] = mail.outbox
    assert message.subject == f"[IRIS] Study {study.name!r} closed: it reached its interval target"
    assert "Every condition's 95% CI is narrower than 0.1." in message.body
    assert Notification.objects.get().about == f"study:{study.pk}"
