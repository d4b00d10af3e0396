"""The scoring tests' own fixtures: a local fake Prolific (tests/fakes/prolific.py)."""

import pytest
from cryptography.fernet import Fernet

from tests.fakes.prolific import RESEARCHER_TOKEN, FakeProlificServer


@pytest.fixture
def prolific(settings):
    """A fake Prolific that takes RESEARCHER_TOKEN, with IRIS pointed at it and able to store tokens."""
    settings.IRIS_PROLIFIC_KEY = Fernet.generate_key().decode()
    server = FakeProlificServer(token=RESEARCHER_TOKEN)
    settings.IRIS_PROLIFIC_URL = server.url
    with server as fake:
        yield fake
