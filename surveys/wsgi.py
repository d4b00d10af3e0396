"""The WSGI application that gunicorn serves.

Loaded once before gunicorn forks its workers (--preload, docker/Dockerfile): the URL configuration,
with every view module it imports, and the URL lookup tables are built here, so that each worker
starts warm instead of spending its first requests importing (about a fifth of the workers' time
during the first seconds of a wave, in `make loadtest`), and a worker that is replaced after a crash
is serving again at once. Nothing here opens a database connection: each worker opens its own.

Two Django handlers share the one app. The runner's trial fetches and answers (with their images'
signed links, most of a wave's Python requests) go through a handler without the middleware those
two JSON endpoints never use: static files, sessions, users and messages (participants have none).
They keep shedding, the size limit, the host check, CSRF and every security header, the same
headers as before. Every other path, participants' pages included, gets the site's full chain
(settings.MIDDLEWARE).
"""

import os
import re

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, get_path_info
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
site = get_wsgi_application()

# The runner's two busiest endpoints, trials:trials and trials:respond (surveys/trials/urls.py; a test
# checks that the two agree).
PARTICIPANT_API_PATH = re.compile(r"/p/[A-Za-z0-9_-]{1,64}/(?:trials|responses)")
# What those two never use: they serve no static file and read no session, user or message. Named as
# what is left out, so that a middleware added to the site later reaches the runner's API too.
NOT_FOR_THE_PARTICIPANT_API = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
}


class ParticipantApiHandler(WSGIHandler):
    """Django's handler with the site's middleware, in the site's order, less NOT_FOR_THE_PARTICIPANT_API."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds the chain from the setting; it is swapped only while this handler builds its own.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = [path for path in full if path not in NOT_FOR_THE_PARTICIPANT_API]
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


participant_api = ParticipantApiHandler()


def application(environ: dict, start_response):
    # The path as Django's own routing reads it (decoded, "/" when the server gives none).
    handler = participant_api if PARTICIPANT_API_PATH.fullmatch(get_path_info(environ)) else site
    return handler(environ, start_response)


def _warm_up() -> None:
    from django.urls import get_resolver, reverse  # lazy: Django is set up by get_wsgi_application above

    get_resolver().resolve("/healthz")  # imports the URL configuration and every view module it names
    reverse("trials:participant", args=["warm-up"])  # fills the reverse lookup tables of each namespace


_warm_up()
