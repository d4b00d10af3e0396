"""gunicorn loads surveys/wsgi.py once before it forks its workers (--preload, docker/Dockerfile): every
view module and the URL tables are ready in the parent, and no database connection is open there to
be shared, broken, by the forked workers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import surveys.wsgi
from django.db import connections
from django.urls import get_resolver
print("views loaded:", "surveys.trials.views" in sys.modules and "surveys.console.views" in sys.modules)
print("reverse tables filled:", get_resolver()._populated)
print("connections open:", sum(c.connection is not None for c in connections.all()))
"""


def test_the_app_is_loaded_warm_and_opens_no_connection_before_the_fork():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "views loaded: True" in done.stdout
    assert "reverse tables filled: True" in done.stdout
    assert "connections open: 0" in done.stdout


# --- the two handlers: the runner's API with its own short middleware chain, every other path the site's

CSRF_SECRET = "a" * 32  # a CSRF cookie's secret; the header may carry it unmasked


def served(method: str, path: str, *, body: bytes = b"", csrf: bool = True, **headers) -> tuple[int, dict, bytes]:
    """One request through the application gunicorn serves (surveys.wsgi.application), as a WSGI
    server calls it: (status, headers, body). No test client is in between, so CSRF is enforced."""
    from django.test import RequestFactory

    import surveys.wsgi

    if csrf:
        headers.update(HTTP_COOKIE=f"csrftoken={CSRF_SECRET}", HTTP_X_CSRFTOKEN=CSRF_SECRET)
    environ = RequestFactory().generic(method, path, body, content_type="application/json", **headers).environ
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer.update(status=int(status.split()[0]), headers=dict(response_headers))

    chunks = surveys.wsgi.application(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()  # as a server does: request_finished, connections tidied
    return answer["status"], answer["headers"], content


def test_only_the_trial_fetch_and_the_answer_take_the_short_chain():
    from django.urls import resolve, reverse

    from surveys.wsgi import PARTICIPANT_API_PATH

    token = "Ab3_-x" * 5
    short = {name: reverse(f"trials:{name}", args=[token]) for name in ("trials", "respond")}
    full = [reverse("trials:participant", args=[token]), reverse("trials:consent", args=[token]),
            reverse("trials:finish", args=[token]), reverse("trials:answers", args=[token]),
            reverse("trials:unavailable", args=[token, "t1"]), reverse("trials:image", args=[token, "t1", "q"]),
            reverse("trials:start", args=[token]), "/p/withdraw/", "/admin/", "/api/v1/", "/healthz"]

    assert all(PARTICIPANT_API_PATH.fullmatch(path) and resolve(path).url_name == name for name, path in short.items())
    assert not any(PARTICIPANT_API_PATH.fullmatch(path) for path in full)


@pytest.mark.django_db(transaction=True)
def test_an_answer_through_the_short_chain_keeps_csrf_shedding_and_every_header(client, settings):
    import json

    from django.urls import reverse

    from surveys.trials.models import Participant, Response
    from tests.surveys import factories

    study = factories.study(factories.researcher(), n_items=2)
    token = client.post(reverse("trials:start", args=[study.public_id]))["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    trial = Participant.objects.get(token=token).trials.order_by("index").first()
    answer = json.dumps({"trial": trial.public_id, "choice": 0, "rt_ms": 500, "idempotency_key": trial.public_id})
    respond = reverse("trials:respond", args=[token])

    forged, _, _ = served("POST", respond, body=answer.encode(), csrf=False)
    settings.IRIS_SHED_QUEUE_MS = 3000
    shed, shed_headers, _ = served("POST", respond, body=answer.encode(), HTTP_X_REQUEST_START="t=1.0")
    stored_before = Response.objects.count()
    status, headers, _ = served("POST", respond, body=answer.encode())
    fetched, fetch_headers, fetch_body = served("GET", reverse("trials:trials", args=[token]))
    page, page_headers, _ = served("GET", reverse("trials:participant", args=[token]))

    assert forged == 403 and shed == 503 and shed_headers["Retry-After"] == "2" and stored_before == 0
    assert status == 201 and Response.objects.filter(trial=trial).count() == 1
    assert fetched == 200 and json.loads(fetch_body)["answered"] == 1
    # The same headers as through the site's full chain (the test client's), security headers included.
    assert set(fetch_headers) == set(client.get(reverse("trials:trials", args=[token])).headers)
    assert fetch_headers["X-Content-Type-Options"] == headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in headers and "Set-Cookie" not in headers
    # A page keeps the site's chain: its content security policy and framing refusal.
    assert page == 200 and "Content-Security-Policy" in page_headers and page_headers["X-Frame-Options"] == "DENY"
