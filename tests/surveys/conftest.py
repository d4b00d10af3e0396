"""Personas and shared fixtures of the web side's tests (docs/conventions.md §15).

Personas: ``researcher`` (staff, owns what a test makes), ``other_researcher`` (staff, owns nothing
of it), ``superuser``, and ``anonymous`` (a browser with no session: a participant or a stranger).
``api_as(user)`` is the REST API signed in with that user's token. Bulk data comes from factories.py.
"""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from iri_engine.demo import write_demo_checkpoint
from surveys.celery import app as celery_app
from tests.surveys import factories


@pytest.fixture
def researcher():
    return factories.researcher("researcher")


@pytest.fixture
def other_researcher():
    return factories.researcher("other-researcher")


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(username="root", password="pw-for-tests-only")


@pytest.fixture
def anonymous() -> Client:
    return Client()


@pytest.fixture
def api_as():
    """The REST API as a given user, signed in with their token (as a script would be)."""
    def client_for(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    return client_for


@pytest.fixture
def study(researcher):
    """The researcher's 2AFC study of four IRIs, nobody has taken it yet."""
    return factories.study(researcher, n_items=4)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """The demo network's state_dict (random ResNet-18 weights, nothing downloaded)."""
    return Path(write_demo_checkpoint(tmp_path_factory.mktemp("checkpoints") / "demo.pt").weights_path)


@pytest.fixture
def inline_tasks():
    """Celery tasks run in the test's process, at once, as they are enqueued."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
