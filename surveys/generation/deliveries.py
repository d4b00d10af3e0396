"""Sending one notification by one channel (docs/notifications.md), for the task
``generation.notification_deliver``: an email to the owner, or a signed POST to their webhook.

Delivery is at least once: a delivery that was sent is never sent again, but a worker killed between
sending and recording it sends it again; the webhook's ``X-IRIS-Delivery`` lets a receiver drop a repeat.
"""

import json
import smtplib
import time

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from surveys.common.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookFailed,
    WebhookRefused,
    webhook_post,
    webhook_sign,
    webhook_target,
)
from surveys.generation.models import DeliveryStatus, Notification, NotificationChannel, NotificationDelivery
from surveys.generation.selectors import notification_settings_of


class DeliveryFailed(Exception):
    """This attempt did not deliver; ``retry`` says whether a later one may."""

    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.retry = retry


def delivery_send(*, delivery_id: int) -> None:
    """Send a pending delivery and record it sent; one already sent or given up is left alone
    (a redelivered task is harmless). Raises DeliveryFailed."""
    delivery = NotificationDelivery.objects.select_related("notification__owner").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING:
        return
    NotificationDelivery.objects.filter(pk=delivery_id).update(attempts=F("attempts") + 1)
    if delivery.channel == NotificationChannel.EMAIL:
        _email_send(delivery.notification)
    else:
        _webhook_call(delivery.notification)
    NotificationDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT, error="", sent_at=timezone.now())


def delivery_give_up(*, delivery_id: int, error: str) -> None:
    """Record a pending delivery as failed for good, with why."""
    NotificationDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, error=error[:5000])


def delivery_error_record(*, delivery_id: int, error: str) -> None:
    """Keep why the last attempt failed while the delivery waits for its next."""
    NotificationDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).update(error=error[:5000])


def notification_payload(notification: Notification) -> dict:
    """The JSON a webhook receives (docs/notifications.md lists its fields)."""
    return {"event": notification.event, "delivery": str(notification.public_id), "about": notification.about,
            "summary": notification.summary, "detail": notification.detail, "url": notification.url,
            "created_at": notification.created_at.isoformat()}


def _email_send(notification: Notification) -> None:
    owner = notification.owner
    if not owner.email:
        raise DeliveryFailed(f"{owner} has no email address.", retry=False)
    body = (f"{notification.summary}.\n\n{notification.detail}\n\n{notification.url}\n\n"
            f"-- \nIRIS tells you of '{notification.get_event_display()}' because your notification settings "
            "ask for it (admin: Notification settings).\n")
    try:
        # One line: a name in the summary (a model's, a study's) may hold a line break, which a mail
        # header must not (Django would refuse the message rather than let it add a header).
        send_mail(subject=" ".join(f"[IRIS] {notification.summary}".split()), message=body, from_email=None,
                  recipient_list=[owner.email])
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"The mail server did not take it: {error}", retry=True) from None


def _webhook_call(notification: Notification) -> None:
    """Check the owner's webhook URL as it is now (its host may resolve elsewhere since it was saved),
    then POST the payload, signed with their secret, to the address that was checked."""
    chosen = notification_settings_of(owner=notification.owner)
    if not chosen.webhook_url:
        raise DeliveryFailed("The webhook was removed before it could be called.", retry=False)
    body = json.dumps(notification_payload(notification)).encode()
    timestamp = str(int(time.time()))
    headers = {"X-IRIS-Event": notification.event, "X-IRIS-Delivery": str(notification.public_id),
               TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: webhook_sign(secret=chosen.webhook_secret, timestamp=timestamp, body=body)}
    try:
        target = webhook_target(chosen.webhook_url, allowed=settings.IRIS_WEBHOOK_ALLOWED_NETWORKS)
        webhook_post(target=target, body=body, headers=headers)
    except WebhookRefused as refusal:
        raise DeliveryFailed(f"Not called: {refusal}", retry=False) from None
    except WebhookFailed as failure:
        raise DeliveryFailed(str(failure), retry=True) from None
