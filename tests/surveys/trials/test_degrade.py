"""Degrade, never fail (issue 14): participants behind one address each have their own rate limit,
a limit answers 429 with Retry-After (which the runner waits out), a Redis outage lets requests
through, and a dropped database connection is retried inside the request."""

import json
import logging
import os

import psycopg2
import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test import Client
from django.urls import reverse

from surveys.trials import guards
from surveys.trials.models import Participant, ParticipantStatus, Response
from tests.surveys import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    guards._outage["until"] = 0.0
    yield
    guards._outage["until"] = 0.0


def browser() -> Client:
    return Client(raise_request_exception=False)


def enter(client, study) -> Participant:
    started = client.post(reverse("trials:start", args=[study.public_id]))
    assert started.status_code == 302, started.status_code
    token = started["Location"].rstrip("/").split("/")[-1]
    assert client.post(reverse("trials:consent", args=[token]), {"agree": "yes"}).status_code == 302
    return Participant.objects.get(token=token)


def answer_all(client, participant) -> list[int]:
    url = reverse("trials:respond", args=[participant.token])
    return [client.post(url, json.dumps({"trial": t.public_id, "choice": 0, "rt_ms": 400,
                                         "idempotency_key": t.public_id}), content_type="application/json").status_code
            for t in participant.trials.all()]


def test_many_participants_behind_one_address_never_lose_an_answer(study):
    # 64 people in one lab answer 256 times within a minute from one address: more than one
    # person's limit (IRIS_PARTICIPANT_RATE, 240/m), which main counted per address.
    statuses = []
    for _ in range(64):
        client = browser()
        participant = enter(client, study)
        statuses += answer_all(client, participant)
        statuses.append(client.post(reverse("trials:finish", args=[participant.token])).status_code)

    assert set(statuses) == {200, 201}
    assert Response.objects.count() == 64 * 4


REDIS_CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache",
               "LOCATION": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")}


@pytest.mark.parametrize("cache_config", [None, REDIS_CACHE], ids=["process-cache", "redis"])
def test_one_session_over_its_limit_is_asked_to_wait_with_retry_after(study, settings, cache_config):
    if cache_config:  # the deployment's cache: both counters in one pipeline
        settings.CACHES = {"default": cache_config}
        caches["default"].clear()
    settings.IRIS_PARTICIPANT_RATE = "6/m"
    client = browser()
    participant = enter(client, study)  # consent: 1 of 6
    trials = reverse("trials:trials", args=[participant.token])
    for _ in range(5):
        assert client.get(trials).status_code == 200

    refused = client.get(trials)

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert "try again" in refused.json()["error"]
    assert enter(browser(), study).status == ParticipantStatus.CONSENTED  # the next person is not held up


def test_behind_a_front_server_that_counts_the_limits_the_web_service_counts_nothing(study, settings):
    """IRIS_RATE_LIMITS_AT_FRONT (docker-compose.yml): nginx's limit_req counts them (its own attack test
    is tests/security/test_it_limits_a_flooding_participant_at_the_front_server.py), so web neither
    refuses nor touches the cache for them."""
    settings.IRIS_RATE_LIMITS_AT_FRONT = True
    settings.IRIS_PARTICIPANT_RATE = "2/m"
    caches["default"].clear()
    client = browser()
    participant = enter(client, study)
    trials = reverse("trials:trials", args=[participant.token])

    assert [client.get(trials).status_code for _ in range(5)] == [200] * 5
    assert not any("iris-rate" in key for key in caches["default"]._cache)  # the test settings: a process cache


def test_the_per_address_limit_bounds_made_up_tokens(study, settings):
    settings.IRIS_ADDRESS_RATE = "5/m"
    client = browser()
    replies = [client.get(f"/p/made-up-token-{n}/").status_code for n in range(7)]

    assert replies == [404] * 5 + [429] * 2


def test_a_redis_outage_lets_participants_through_and_is_logged(study, settings, caplog):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0",  # a closed port
                                   "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    client = browser()
    with caplog.at_level(logging.WARNING, logger="surveys.trials.guards"):
        page = client.get(reverse("trials:start", args=[study.public_id]))
        participant = enter(client, study)
        statuses = answer_all(client, participant)

    assert page.status_code == 200
    assert statuses == [201] * 4
    assert "Rate limits are off" in caplog.text


def terminate_backend(pid: int) -> None:
    """Kill a PostgreSQL backend from another connection, as a restart or an idle timeout would."""
    params = connection.get_connection_params()
    with psycopg2.connect(**params) as other, other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


def web_backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_never_shows_the_start_or_consent_page_a_500():
    study = factories.study(factories.researcher(), n_items=4)
    client = browser()
    start = reverse("trials:start", args=[study.public_id])

    terminate_backend(web_backend_pid())
    page = client.get(start)
    terminate_backend(web_backend_pid())
    entered = client.post(start)
    token = entered["Location"].rstrip("/").split("/")[-1]
    terminate_backend(web_backend_pid())
    consent = client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})

    assert (page.status_code, entered.status_code, consent.status_code) == (200, 302, 302)
    assert Participant.objects.get(token=token).status == ParticipantStatus.CONSENTED


@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_away_answers_503_with_retry_after():
    study = factories.study(factories.researcher(), n_items=4)
    client = browser()
    pid = web_backend_pid()

    def kill_every_connection(execute, sql, params, many, context):
        terminate_backend(pid_of(context["connection"]))
        return execute(sql, params, many, context)

    def pid_of(conn) -> int:
        return conn.connection.info.backend_pid if conn.connection else pid

    with connection.execute_wrapper(kill_every_connection):
        reply = client.get(reverse("trials:start", args=[study.public_id]))

    assert reply.status_code == 503
    assert reply["Retry-After"] == str(guards.DATABASE_RETRY_AFTER_S)
    assert "briefly unavailable" in reply.content.decode()
