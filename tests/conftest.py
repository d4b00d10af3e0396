import os

import pytest

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests make
# around it are ordinary synchronous calls, so Django's async guard is lifted for the test process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# One OpenMP thread for torch here and in the workers the tests start (they inherit the environment):
# a test runs a browser, a server and a worker on two cores, and oversubscribed threads stalled an
# adversarial job from 12 s to 196 s.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing(request):
    """Passwords hashed with MD5 in the test process (Django tests only): the default PBKDF2 costs ~0.4 s of
    CPU per user made, and most tests make one. Nothing the tests start in another process checks a
    password made here; the live server runs in this process."""
    if not request.config.pluginmanager.has_plugin("django"):
        yield
        return
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def shared_chromium():
    """One headless Chromium for the whole run: starting Playwright and Chromium costs ~3 s, a new page in
    it ~1 s. Tests open their pages in their own contexts (tests.surveys.browser.fresh_contexts)."""
    from tests.surveys.browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def _media_in_tmp(request, tmp_path):
    """Each test stores files in its own folder (Django tests only)."""
    if "django" not in request.config.pluginmanager.list_name_plugin().__repr__():
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path / "media"
    yield
