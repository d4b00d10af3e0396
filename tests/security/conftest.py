"""The web side's personas and fixtures (tests/surveys/conftest.py), for the attacks here too."""

from tests.surveys.conftest import api_as, checkpoint, inline_tasks, researcher  # noqa: F401
