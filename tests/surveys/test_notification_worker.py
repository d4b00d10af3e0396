"""A job fails on a real celery worker, and the worker tells its owner: a mail through the SMTP server
that EMAIL_HOST names (a local one that keeps what it gets), and a signed POST to their webhook, whose
receiver is down at first: the call is tried again a few seconds later, and never blocks anything."""

import io
import ipaddress
import time

import pytest

from surveys.generation import services
from surveys.generation.models import DeliveryStatus, JobStatus, NotificationDelivery, NotificationEvent
from surveys.generation.notifications import notification_settings_set
from surveys.generation.tasks import NOTIFY_FIRST_RETRY_S
from tests.fakes.smtp import FakeSmtp
from tests.fakes.webhook import WebhookReceiver
from tests.surveys import factories
from tests.surveys.browser import celery_worker, wait_for_job

# slow (make test-slow): a real worker and the receiver's retry; test_notifications.py checks the same
# mails, calls and retries in the test's process in the default suite.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_worker_mails_and_calls_the_owner_of_a_job_that_failed_trying_a_down_receiver_again(
        settings, researcher, checkpoint):
    settings.IRIS_WEBHOOK_ALLOWED_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    researcher.email = "ada@lab.example"
    researcher.save()
    model = factories.demo_model_saved(researcher, checkpoint)
    model.weights.save("broken.pt", io.BytesIO(b"not a checkpoint"), save=True)
    targets = services.target_set_create(owner=researcher, name="t", uploads=[
        (f"{i}.png", factories.png_bytes((60 * i, 9, 9))) for i in range(2)])

    with FakeSmtp() as smtp, WebhookReceiver(statuses=[503]) as receiver:
        _, secret = notification_settings_set(owner=researcher, email=True, events=list(NotificationEvent.values),
                                              webhook_url=receiver.url)
        worker_env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port), "EMAIL_USE_TLS": "false",
                      "IRIS_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}
        with celery_worker(extra_env=worker_env) as worker:
            job = services.job_submit(owner=researcher, model=model, target_set=targets,
                                      config={"layers": ["layer1"], "iterations": 5})
            job = wait_for_job(job, timeout_s=120, worker=worker)
            [message] = smtp.wait_for(1, timeout_s=30)
            calls = receiver.wait_for(2, timeout_s=30 + NOTIFY_FIRST_RETRY_S)
            # The worker records a delivery after the receiver has answered: stop it only once it has.
            deadline = time.monotonic() + 30
            while NotificationDelivery.objects.exclude(status=DeliveryStatus.SENT).exists():
                assert time.monotonic() < deadline, list(NotificationDelivery.objects.values("channel", "status"))
                time.sleep(0.2)

    assert job.status == JobStatus.FAILED
    assert message["To"] == "ada@lab.example" and message["Subject"] == f"[IRIS] Job {job.pk} (demo, layer1) failed"
    assert len(calls) == 2  # the first answered 503, the second 200
    assert calls[0].body == calls[1].body and calls[1].verified(secret)
    assert calls[1].json["event"] == "job.failed" and calls[1].json["detail"] == job.error
    webhook = NotificationDelivery.objects.get(channel="webhook")
    assert (webhook.status, webhook.attempts) == (DeliveryStatus.SENT, 2)
    assert NotificationDelivery.objects.get(channel="email").status == DeliveryStatus.SENT
