"""A researcher is told when a job of theirs ends: by email to their account's address (Django's
in-process outbox here) and by a signed POST to their webhook (a real receiver on 127.0.0.1, which
the tests allow as an operator allows an internal network), from tasks run once the job's end commits.
A job failing in the engine on a real worker, a mail server and retries: tests/surveys/test_notification_worker.py."""

import ipaddress

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.exceptions import ValidationError

from surveys.generation import services
from surveys.generation.models import (
    DeliveryStatus,
    GenerationBatch,
    GenerationJob,
    JobStatus,
    Notification,
    NotificationDelivery,
    NotificationEvent,
)
from surveys.generation.notifications import notification_send, notification_settings_set
from surveys.generation.tasks import NOTIFY_FIRST_RETRY_S, NOTIFY_RETRIES, generation_notification_deliver
from tests.fakes.webhook import WebhookReceiver
from tests.surveys import factories

pytestmark = pytest.mark.django_db
EVERY_EVENT = list(NotificationEvent.values)


@pytest.fixture
def owner(researcher):
    researcher.email = "ada@lab.example"
    researcher.save()
    return researcher


@pytest.fixture
def loopback_allowed(settings):
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def running_job(owner) -> GenerationJob:
    """A job whose one batch a worker is running (its IRIs already stored, as a finished job's are)."""
    job = factories.finished_job(owner, n_items=3)
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    GenerationBatch.objects.create(job=job, index=0, layer="layer2", target_ids=[], status=JobStatus.RUNNING,
                                   claimed_by="worker-1")
    return job


def batch_ends(job, *, status: str, error: str = "") -> None:
    services.batch_finish(batch_id=job.batches.get().pk, status=status, error=error, worker="worker-1")


def test_a_job_that_fails_mails_its_owner_why(owner, inline_tasks, django_capture_on_commit_callbacks):
    job = running_job(owner)

    with django_capture_on_commit_callbacks(execute=True):
        batch_ends(job, status=JobStatus.FAILED, error="CUDA out of memory at batch size 1")

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    [message] = mail.outbox
    assert message.to == ["ada@lab.example"]
    assert message.subject == f"[IRIS] Job {job.pk} ({job.model.name}, layer2) failed"
    assert "batch 0: CUDA out of memory at batch size 1" in message.body
    assert f"/admin/generation/generationjob/{job.pk}/change/" in message.body
    assert NotificationDelivery.objects.get().status == DeliveryStatus.SENT


def test_a_job_that_finishes_mails_how_many_iris_pass(owner, inline_tasks, django_capture_on_commit_callbacks):
    job = running_job(owner)

    with django_capture_on_commit_callbacks(execute=True):
        batch_ends(job, status=JobStatus.DONE)

    [message] = mail.outbox
    assert message.subject == f"[IRIS] Job {job.pk} ({job.model.name}, layer2) finished"
    assert "3 IRIs stored; 3 of them pass their criterion." in message.body


def test_a_name_with_a_line_break_adds_no_mail_header(owner, inline_tasks, django_capture_on_commit_callbacks):
    job = running_job(owner)
    job.model.name = "resnet\nBcc: everyone@lab.example"
    job.model.save()

    with django_capture_on_commit_callbacks(execute=True):
        batch_ends(job, status=JobStatus.DONE)

    [message] = mail.outbox
    assert message.subject == f"[IRIS] Job {job.pk} (resnet Bcc: everyone@lab.example, layer2) finished"
    assert message.message().get_all("Bcc") is None


def test_a_cancelled_job_and_a_switched_off_event_send_nothing(owner, inline_tasks, django_capture_on_commit_callbacks):
    notification_settings_set(owner=owner, email=True, events=[NotificationEvent.JOB_FAILED], webhook_url="")
    cancelled, finished = running_job(owner), running_job(owner)

    with django_capture_on_commit_callbacks(execute=True):
        batch_ends(cancelled, status=JobStatus.CANCELLED)
        batch_ends(finished, status=JobStatus.DONE)

    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_an_event_is_told_once_however_often_it_is_sent(owner, inline_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_send(event=NotificationEvent.STUDY_FILLED, owner=owner, about="study:7", summary="Full")
        again = notification_send(event=NotificationEvent.STUDY_FILLED, owner=owner, about="study:7", summary="Full")

    assert first is not None and again is None
    assert len(mail.outbox) == 1


def test_the_webhook_gets_the_event_signed_with_the_secret_shown_once(owner, receiver, loopback_allowed, inline_tasks,
                                                                      django_capture_on_commit_callbacks):
    settings_row, secret = notification_settings_set(owner=owner, email=False, events=EVERY_EVENT,
                                                     webhook_url=receiver.url)
    _, not_again = notification_settings_set(owner=owner, email=False, events=EVERY_EVENT, webhook_url=receiver.url)
    job = running_job(owner)

    with django_capture_on_commit_callbacks(execute=True):
        batch_ends(job, status=JobStatus.FAILED, error="CUDA out of memory")

    [call] = receiver.calls
    notification = Notification.objects.get()
    assert len(secret) >= 40 and not_again == ""
    assert call.verified(secret)
    assert not call.verified(secret + "x")
    assert call.path == "/iris-hook"
    assert call.headers["X-IRIS-Event"] == "job.failed"
    assert call.headers["X-IRIS-Delivery"] == str(notification.public_id)
    assert call.json["event"] == "job.failed" and call.json["about"] == f"job:{job.pk}"
    assert call.json["detail"] == "batch 0: CUDA out of memory"
    assert mail.outbox == []  # email was switched off


def test_a_new_secret_replaces_the_old_one_for_the_next_call(owner, receiver, loopback_allowed, inline_tasks,
                                                             django_capture_on_commit_callbacks):
    _, old = notification_settings_set(owner=owner, email=False, events=EVERY_EVENT, webhook_url=receiver.url)
    _, new = notification_settings_set(owner=owner, email=False, events=EVERY_EVENT, webhook_url=receiver.url,
                                       new_secret=True)

    with django_capture_on_commit_callbacks(execute=True):
        notification_send(event=NotificationEvent.STUDY_FILLED, owner=owner, about="study:1", summary="Full")

    [call] = receiver.calls
    assert new and new != old
    assert call.verified(new) and not call.verified(old)


def test_a_receiver_that_is_down_is_tried_again_later_and_given_up_after_the_last_try(owner, receiver,
                                                                                        loopback_allowed):
    """The task's own retries, first and last (a real worker retrying: test_notification_worker.py)."""
    notification_settings_set(owner=owner, email=False, events=EVERY_EVENT, webhook_url=receiver.url)
    notification_send(event=NotificationEvent.JOB_DONE, owner=owner, about="job:1", summary="Done")
    delivery = NotificationDelivery.objects.get()
    receiver.statuses = [503, 502, 500]

    with pytest.raises(Retry) as first:
        generation_notification_deliver.apply(args=[delivery.pk])
    with pytest.raises(Retry) as fourth:
        generation_notification_deliver.apply(args=[delivery.pk], retries=3)
    waiting = NotificationDelivery.objects.get()
    generation_notification_deliver.apply(args=[delivery.pk], retries=NOTIFY_RETRIES)
    delivery.refresh_from_db()

    assert (first.value.when, fourth.value.when) == (NOTIFY_FIRST_RETRY_S, 8 * NOTIFY_FIRST_RETRY_S)
    assert (waiting.status, waiting.error) == (DeliveryStatus.PENDING, "127.0.0.1 answered 502 Bad Gateway")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.error == "127.0.0.1 answered 500 Internal Server Error"
    assert len(receiver.calls) == 3


def test_a_webhook_removed_before_its_call_is_not_called(owner, receiver, loopback_allowed, inline_tasks,
                                                         django_capture_on_commit_callbacks):
    notification_settings_set(owner=owner, email=True, events=EVERY_EVENT, webhook_url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        notification_send(event=NotificationEvent.JOB_DONE, owner=owner, about="job:1", summary="Done")
        notification_settings_set(owner=owner, email=True, events=EVERY_EVENT, webhook_url="")

    webhook = NotificationDelivery.objects.get(channel="webhook")
    assert receiver.calls == []
    assert (webhook.status, webhook.error) == (DeliveryStatus.FAILED, "The webhook was removed before it could be called.")
    assert len(mail.outbox) == 1


def test_an_owner_without_an_address_and_without_a_webhook_is_told_nothing(researcher, inline_tasks,
                                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        told = notification_send(event=NotificationEvent.JOB_DONE, owner=researcher, about="job:1", summary="Done")

    assert told is None and mail.outbox == []


def test_an_unknown_event_is_refused(owner):
    with pytest.raises(ValidationError, match="Unknown event 'job.exploded'"):
        notification_settings_set(owner=owner, email=True, events=["job.exploded"], webhook_url="")
