"""The attack tests use the web side's personas (tests/surveys/conftest.py) as they are."""

from tests.surveys.conftest import api_as, researcher  # noqa: F401 - fixtures, found by name
