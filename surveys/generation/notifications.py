"""Telling researchers of events (docs/notifications.md): their settings, and the one service every
app calls when something happened, ``notification_send``. Sending is not done here: each channel's
delivery is a task enqueued once the transaction commits (surveys/generation/deliveries.py), so no
request waits for a mail server or a webhook.

The events and who sends them: generation tells of a job's end (``job_notify``, from job_refresh);
studies tell of a study that filled or reached its interval target (surveys/studies/notifications.py).
"""

import logging
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from surveys.common.webhooks import WebhookFailed, WebhookRefused, webhook_target
from surveys.generation.models import (
    GenerationJob,
    JobStatus,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
    NotificationSettings,
)
from surveys.generation.selectors import job_verdicts, notification_settings_of
from surveys.generation.tasks import generation_notification_deliver

logger = logging.getLogger(__name__)

DETAIL_LIMIT = 2000  # characters of detail a notification carries (a failed job's reasons can be long)


def notification_settings_set(*, owner, email: bool, events: Sequence[str], webhook_url: str,
                              new_secret: bool = False) -> tuple[NotificationSettings, str]:
    """Save how ``owner`` is told of events. A webhook URL is checked as it will be called (its
    host must resolve to public addresses only); a first webhook, or ``new_secret``, makes a new
    signing secret. Answers the row and that secret when it was made now ("" otherwise): the only
    time it is shown."""
    unknown = sorted(set(events) - set(NotificationEvent.values))
    if unknown:
        raise ValidationError(f"Unknown event {unknown[0]!r}; the events are {', '.join(NotificationEvent.values)}.")
    webhook_url = webhook_url.strip()
    if webhook_url:
        try:
            webhook_target(webhook_url, allowed=settings.IRIS_WEBHOOK_ALLOWED_NETWORKS)
        except (WebhookRefused, WebhookFailed) as refusal:
            raise ValidationError(str(refusal)) from None
    row = notification_settings_of(owner=owner)
    secret = secrets.token_urlsafe(32) if webhook_url and (new_secret or not row.webhook_secret) else ""
    row.email, row.events, row.webhook_url = email, [e for e in NotificationEvent.values if e in events], webhook_url
    row.webhook_secret = (secret or row.webhook_secret) if webhook_url else ""
    row.save()
    return row, secret


def notification_send(*, event: str, owner, about: str, summary: str, detail: str = "",
                      url: str = "") -> Notification | None:
    """Tell ``owner`` of ``event`` (a NotificationEvent) about ``about`` ("job:12", "study:3"), by
    the channels they chose, each in a task enqueued once the transaction commits.

    Once per event and ``about``: a second call records and sends nothing, and answers None; so does
    an event the owner switched off, or one with no way out (email off or no address, no webhook).
    """
    NotificationEvent(event)  # an unknown event is a programming error: ValueError
    chosen = notification_settings_of(owner=owner)
    channels = [channel for channel, on in ((NotificationChannel.EMAIL, chosen.email and bool(owner.email)),
                                            (NotificationChannel.WEBHOOK, bool(chosen.webhook_url))) if on]
    if event not in chosen.events or not channels:
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(owner=owner, event=event, about=about, summary=summary[:300],
                                                       detail=detail[:DETAIL_LIMIT], url=url)
            deliveries = NotificationDelivery.objects.bulk_create(
                NotificationDelivery(notification=notification, channel=channel) for channel in channels)
    except IntegrityError:
        return None  # told already
    ids = [delivery.pk for delivery in deliveries]
    # Robust: a broker that is away must not fail what called this (a participant finishing); the
    # deliveries stay pending, as admin shows.
    transaction.on_commit(lambda: _deliveries_enqueue(ids), robust=True)
    return notification


def _deliveries_enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        generation_notification_deliver.apply_async(args=[delivery_id])


def site_link(path: str) -> str:
    """An absolute link to a page of this site, for a message read elsewhere."""
    return f"{settings.SITE_URL}{path}"


def job_notify(*, job: GenerationJob) -> Notification | None:
    """Tell a job's owner that it finished (with how many IRIs pass) or failed (with why)."""
    about = f"Job {job.pk} ({job.model.name}, {', '.join(job.layers)})"
    if job.status == JobStatus.FAILED:
        event, summary, detail = NotificationEvent.JOB_FAILED, f"{about} failed", job.error
    else:
        verdicts = job_verdicts(job=job)
        event, summary = NotificationEvent.JOB_DONE, f"{about} finished"
        stored = verdicts["passed"] + verdicts["failed"] + verdicts["unjudged"]
        detail = f"{stored} IRIs stored; {verdicts['passed']} of them pass their criterion."
    return notification_send(event=event, owner=job.owner, about=f"job:{job.pk}", summary=summary, detail=detail,
                             url=site_link(reverse("admin:generation_generationjob_change", args=[job.pk])))
