"""Past capacity, a request that waited too long in the front server's queue is answered 503 with
Retry-After at once (surveys/shedding.py); the runner sends it again, and the answer is stored once."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from surveys.trials.models import Participant, Response
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def queued(seconds: float) -> dict:
    """The header docker/nginx.conf adds: when the front server received the request."""
    return {"HTTP_X_REQUEST_START": f"t={time.time() - seconds:.3f}"}


@pytest.fixture
def participant(client) -> Participant:
    study = factories.study(factories.researcher(), n_items=2)
    token = client.post(reverse("trials:start", args=[study.public_id]))["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return Participant.objects.get(token=token)


def test_an_answer_that_waited_too_long_is_shed_then_stored_once_when_sent_again(client, participant, settings):
    settings.IRIS_SHED_QUEUE_MS = 3000
    trial = participant.trials.order_by("index").first()
    body = json.dumps({"trial": trial.public_id, "choice": 0, "rt_ms": 500, "idempotency_key": trial.public_id})
    url = reverse("trials:respond", args=[participant.token])

    shed = client.post(url, body, content_type="application/json", **queued(5))
    stored_after_shed = Response.objects.count()
    again = client.post(url, body, content_type="application/json", **queued(0.05))

    assert shed.status_code == 503 and shed["Retry-After"] == "2" and "retry_after" in shed.json()
    assert stored_after_shed == 0
    assert again.status_code == 201 and Response.objects.count() == 1


def test_a_page_that_waited_too_long_gets_the_busy_page_that_reloads_itself(client, participant, settings):
    settings.IRIS_SHED_QUEUE_MS = 3000

    page = client.get(reverse("trials:participant", args=[participant.token]), **queued(10))

    assert page.status_code == 503 and page["Retry-After"] == "2"
    assert 'http-equiv="refresh"' in page.content.decode()


def test_nothing_is_shed_without_the_header_when_switched_off_or_for_the_health_check(participant, settings):
    settings.IRIS_SHED_QUEUE_MS = 3000
    page = reverse("trials:participant", args=[participant.token])
    client = Client()

    plain = client.get(page)
    health = client.get(reverse("healthz"), **queued(60))
    settings.IRIS_SHED_QUEUE_MS = 0
    switched_off = client.get(page, **queued(60))

    assert (plain.status_code, switched_off.status_code) == (200, 200)
    assert health.status_code != 503
