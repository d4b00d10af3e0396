"""What stands between a participant's request and its view: rate limits, and riding out a dropped
database connection. Degrade, never fail: a participant is asked to wait (429 or 503 with
Retry-After, which the runner honours and tries again), never shown a 500.

Rate limits are counted per session token, so many participants behind one address (a lab, a
university, a mobile carrier) each have their own budget; a looser limit per address bounds what
one machine can do with made-up tokens and how fast it can start sessions. The counts live in the
cache (Redis in a deployment): when it is unreachable, the limits are skipped (fail open, logged),
because a lost answer costs more than a burst of unmetered requests. Behind the deployment's front
server the same limits are counted there instead (docker/nginx.conf, IRIS_RATE_LIMITS_AT_FRONT), with
no Redis round trip per request.
"""

import functools
import logging
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy

# django-ratelimit's reading of a rate ("240/m") and of the client's address (IRIS_CLIENT_IP_META_KEY,
# IPv6 by /64); the counting is ours, so that both counters cost one Redis round trip.
from django_ratelimit.core import _get_ip, _split_rate

from surveys.trials.payloads import MAX_BODY_BYTES

logger = logging.getLogger(__name__)

# After the cache failed, rate limits are skipped for this long before it is tried again, so an
# unreachable Redis costs one timeout now and then rather than one per request.
CACHE_OUTAGE_PAUSE_S = 10.0
# What a participant is told to wait when the database stays unreachable after one retry.
DATABASE_RETRY_AFTER_S = 5
_outage = {"until": 0.0}
BUSY_TOO_FAST = gettext_lazy("Too many requests: try again in a few seconds.")
BUSY_AWAY = gettext_lazy("The study is briefly unavailable: try again in a few seconds.")


class DatabaseAway(Exception):
    """The database connection failed twice in one request."""


# Every count of a request in one round trip, as one command: a pipeline object costs more Python to
# build than the round trip it saves. A window's key expires with its window.
COUNT_LUA = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[i]) end
end
return counts
"""
_script = {}


def _count_script(client):
    """COUNT_LUA, registered once (redis-py then sends its SHA, and the script only when Redis lacks it)."""
    if "count" not in _script:
        _script["count"] = client.register_script(COUNT_LUA)
    return _script["count"]


def _counting_client(cache: RedisCache):
    """One redis-py client per cache object, kept: Django's get_client() builds a new client around the
    same connection pool on each call, and that construction (redis-py fills its table of reply
    parsers) cost more CPU than the whole round trip it serves."""
    client = getattr(cache, "_iris_counting_client", None)
    if client is None:
        client = cache._iris_counting_client = cache._cache.get_client(write=True)  # Django's own client
    return client


def _counts(keys: list[str], *, periods: list[int]) -> list[int] | None:
    """Each key's count in its fixed window, incremented; None when the cache is down. On Redis all
    of them in one round trip (COUNT_LUA); elsewhere through the cache API."""
    if time.monotonic() < _outage["until"]:
        return None
    cache = caches["default"]
    try:
        if isinstance(cache, RedisCache):
            client = _counting_client(cache)
            stored = [cache.make_key(key) for key in keys]  # our keys are short ASCII: nothing to validate
            return _count_script(client)(keys=stored, args=[period + 1 for period in periods], client=client)
        counts = []
        for key, period in zip(keys, periods, strict=True):
            cache.add(key, 0, period + 1)
            counts.append(cache.incr(key))
        return counts
    except Exception as error:  # any cache backend's error: the limit is a guard, not the service
        _outage["until"] = time.monotonic() + CACHE_OUTAGE_PAUSE_S
        logger.warning("Rate limits are off for %.0f s: the cache failed (%s: %s).", CACHE_OUTAGE_PAUSE_S,
                       type(error).__name__, error)
        return None


def wait_seconds(request: HttpRequest, *, group: str, token: str | None, rate: str) -> int | None:
    """Seconds this request must wait when its session or its address is over its limit, else None.
    ``rate`` names the setting that holds the per-token rate. Fixed windows of the rate's period."""
    if not settings.RATELIMIT_ENABLE or settings.IRIS_RATE_LIMITS_AT_FRONT:  # off, or the front server's job
        return None
    checks = [("address", _get_ip(request), settings.IRIS_ADDRESS_RATE)]
    if token is not None:
        checks.append((group, token, getattr(settings, rate)))
    limits, periods = zip(*(_split_rate(limit) for _, _, limit in checks), strict=True)
    now = int(time.time())
    ends = [now - now % period + period for period in periods]
    keys = [f"iris-rate:{name}:{value}:{end}" for (name, value, _), end in zip(checks, ends, strict=True)]
    counts = _counts(keys, periods=list(periods))
    for count, limit, end in zip(counts or [], limits, ends, strict=False):
        if count > limit:
            return max(1, end - now)
    return None


def busy_reply(request: HttpRequest, *, status: int, retry_after: int, as_json: bool) -> HttpResponse:
    """429 (too fast) or 503 (the database is away), both with Retry-After: try again later. The runner
    shows words of its own for either; the page is in the browser's language (of settings.LANGUAGES),
    since which study asked is not looked up: the database may be what is away."""
    with translation.override(translation.get_language_from_request(request)):
        message = str(BUSY_TOO_FAST if status == 429 else BUSY_AWAY)
        if as_json:
            response = JsonResponse({"error": message, "retry_after": retry_after}, status=status)
        else:
            response = render(request, "participant/busy.html",
                              {"message": message, "reload": request.method == "GET", "retry_after": retry_after},
                              status=status)
    response["Retry-After"] = str(retry_after)
    return response


def _with_one_retry(view, request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """The view, run again once on a fresh connection when the database connection dropped;
    DatabaseAway when that fails too. Every participant write is idempotent (an answer by its key,
    consent by the session's status), so running a view twice stores nothing twice."""
    try:
        return view(request, *args, **kwargs)
    except (OperationalError, InterfaceError) as error:
        if connection.in_atomic_block:  # an outer transaction is lost with its connection
            raise
        logger.warning("The database connection failed (%s); trying once more.", error)
        connection.close()
    try:
        return view(request, *args, **kwargs)
    except (OperationalError, InterfaceError) as error:
        logger.error("The database is unreachable (%s): asking the participant to wait.", error)
        connection.close()
        raise DatabaseAway from error


def _body_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def participant_request(*, group: str, rate: str, as_json: bool):
    """Guard a participant view: a body over MAX_BODY_BYTES is refused (400), then rate limits (per
    token from the URL at the rate in setting ``rate``, looser per address; over a limit, 429 with
    Retry-After), then the view, with one retry on a dropped database connection (503 when that
    fails too)."""
    def decorate(view):
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if _body_length(request) > MAX_BODY_BYTES:  # refused before anything reads or parses it
                message = f"The request body is larger than {MAX_BODY_BYTES} bytes."
                return JsonResponse({"error": message}, status=400) if as_json else HttpResponseBadRequest(message)
            wait = wait_seconds(request, group=group, token=kwargs.get("token"), rate=rate)
            if wait is not None:
                return busy_reply(request, status=429, retry_after=wait, as_json=as_json)
            # Participant requests skip CONN_HEALTH_CHECKS' ping (a round trip per request): a dropped
            # connection costs them a retry instead, nothing while it is fine. (Django's own flag; were
            # it renamed, the ping would simply run again.)
            connection.health_check_done = True
            try:
                return _with_one_retry(view, request, *args, **kwargs)
            except DatabaseAway:
                return busy_reply(request, status=503, retry_after=DATABASE_RETRY_AFTER_S, as_json=as_json)
        return guarded
    return decorate
