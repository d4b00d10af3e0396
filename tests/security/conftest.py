"""Personas of the attacks: researcher A owns everything a test makes; researcher B (staff, owns
nothing of A's), a non-staff account with an API token, a participant of B's study, a stranger and a
superuser who opens links; a coder is a researcher allowed to register code-bearing (TorchScript)
models. Bulk data comes from tests/surveys/factories.py."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from tests.surveys import factories
from tests.surveys.conftest import api_as, checkpoint, inline_tasks, other_researcher, researcher, superuser  # noqa: F401

PASSWORD = "pw-for-tests-only"


# Researchers A and B are the web side's two researcher personas, named as the attacks name them
# (F811: pytest hands the imported fixture in as the argument).
@pytest.fixture
def researcher_a(researcher):  # noqa: F811
    return researcher


@pytest.fixture
def researcher_b(other_researcher):  # noqa: F811
    return other_researcher


@pytest.fixture
def non_staff():
    return get_user_model().objects.create_user(username="not-a-researcher", password=PASSWORD)


@pytest.fixture
def coder():
    """A researcher given the permission to register code-bearing models."""
    user = factories.researcher("coder")
    user.user_permissions.add(Permission.objects.get(codename="register_code_model"))
    return get_user_model().objects.get(pk=user.pk)  # a fresh copy: permissions are cached per object
