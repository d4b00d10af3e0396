"""Personas of the attacks: researcher A owns everything a test makes; researcher B (staff, owns
nothing of A's), a non-staff account with an API token, a participant of B's study, a stranger and a
superuser who opens links. Bulk data comes from tests/surveys/factories.py."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.surveys import factories

PASSWORD = "pw-for-tests-only"


@pytest.fixture
def researcher_a():
    return factories.researcher("researcher-a")


@pytest.fixture
def researcher_b():
    return factories.researcher("researcher-b")


@pytest.fixture
def non_staff():
    return get_user_model().objects.create_user(username="not-a-researcher", password=PASSWORD)


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser(username="root", password=PASSWORD)


@pytest.fixture
def api_as():
    """The REST API as a given user, signed in with their token (as a script would be)."""
    def client_for(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        return client

    return client_for
