"""The WSGI application that gunicorn serves.

Loaded once before gunicorn forks its workers (--preload, docker/Dockerfile): the URL configuration,
with every view module it imports, and the URL lookup tables are built here, so that each worker
starts warm instead of spending its first requests importing (about a fifth of the workers' time
during the first seconds of a wave, in `make loadtest`), and a worker that is replaced after a crash
is serving again at once. Nothing here opens a database connection: each worker opens its own.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
application = get_wsgi_application()


def _warm_up() -> None:
    from django.urls import get_resolver, reverse  # lazy: Django is set up by get_wsgi_application above

    get_resolver().resolve("/healthz")  # imports the URL configuration and every view module it names
    reverse("trials:participant", args=["warm-up"])  # fills the reverse lookup tables of each namespace


_warm_up()
