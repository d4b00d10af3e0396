"""Personas of the attacks: researcher A owns everything a test makes; researcher B (staff, owns
nothing of A's), a non-staff account with an API token, a participant of B's study, a stranger and a
superuser who opens links; a coder is a researcher allowed to register code-bearing (TorchScript)
models. Bulk data comes from tests/surveys/factories.py."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from tests.surveys import factories
from tests.surveys.conftest import api_as, checkpoint, inline_tasks, researcher  # noqa: F401

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
def coder():
    """A researcher given the permission to register code-bearing models."""
    user = factories.researcher("coder")
    user.user_permissions.add(Permission.objects.get(codename="register_code_model"))
    return get_user_model().objects.get(pk=user.pk)  # a fresh copy: permissions are cached per object
