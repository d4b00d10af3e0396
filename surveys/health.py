"""The health endpoint (/healthz) and the probe that container healthchecks run against it.

The endpoint answers 200 once this process reaches the database, 503 otherwise; it sits on the
normal request path, so Django's host check applies. The probe therefore sends a host that
DJANGO_ALLOWED_HOSTS accepts, as a real client would: ``python -m surveys.health URL``.
"""

import sys
import urllib.request


def healthz(request):
    """200 when the database answers, 503 when not; never cached."""
    # Django is imported here, not above: the probe below runs in this module every few seconds in
    # each container, and without Django it starts in a tenth of the time.
    from django.db import connection  # lazy: the probe below runs without Django
    from django.http import JsonResponse  # lazy: the probe below runs without Django
    from django.utils.cache import add_never_cache_headers  # lazy: the probe below runs without Django

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any database failure means "not ready", never a 500 page
        answer = JsonResponse({"status": "unavailable", "database": type(error).__name__}, status=503)
    else:
        answer = JsonResponse({"status": "ok"})
    add_never_cache_headers(answer)
    return answer


def allowed_host() -> str:
    """A host name that DJANGO_ALLOWED_HOSTS accepts: its first entry ('.x.org' accepts x.org itself)."""
    from surveys.env import env_list  # lazy: surveys.env imports Django, which the probe avoids

    entries = env_list("DJANGO_ALLOWED_HOSTS", [])
    host = entries[0].lstrip(".") if entries else "localhost"
    return "localhost" if host == "*" else host


def probe(url: str) -> int:
    request = urllib.request.Request(url, headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(probe(sys.argv[1]))
