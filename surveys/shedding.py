"""Shedding load past capacity: a request that waited in the front server's queue longer than
IRIS_SHED_QUEUE_MS is answered 503 with Retry-After at once, before any work is done for it.

Past capacity a queue only grows: each request served late makes the next one later, and clients
who gave up long ago are still served. Answering the stale ones at once keeps the queue short for
the rest; the participant's runner waits Retry-After and sends the same request again (an answer
carries its idempotency key), so nothing is lost. The wait is measured from the front server's
`X-Request-Start: t=<seconds since the epoch>` header (docker/nginx.conf sets it; the same host's
clock); without the header, or with the setting at 0, nothing is shed.
"""

import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from surveys.trials.guards import busy_reply

logger = logging.getLogger(__name__)

SHED_RETRY_AFTER_S = 2
# Never shed: the health check must say how the app is, not how busy its queue is.
NEVER_SHED = ("/healthz",)


def queued_ms(request: HttpRequest, *, now: float) -> float | None:
    """How long the request waited before Django saw it, from X-Request-Start; None without one."""
    header = request.META.get("HTTP_X_REQUEST_START", "")
    try:
        started = float(header.removeprefix("t="))
    except ValueError:
        return None
    return (now - started) * 1000


class QueueShedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.IRIS_SHED_QUEUE_MS
        if limit and request.path not in NEVER_SHED:
            waited = queued_ms(request, now=time.time())
            if waited is not None and waited > limit:
                logger.warning("Shed %s %s: it waited %.0f ms in the queue.", request.method, request.path, waited)
                return _shed(request)
        return self.get_response(request)


def _shed(request: HttpRequest) -> HttpResponse:
    # The runner's fetches and posts want JSON; a page load gets the busy page, which reloads itself.
    wants_json = request.method != "GET" or "application/json" in request.headers.get("Accept", "")
    return busy_reply(request, status=503, retry_after=SHED_RETRY_AFTER_S, as_json=wants_json)
