"""One round of the participant-path benchmark (run by bench/participant.py in the tree under test).

Usage: python participant_flow.py PARTICIPANTS ITEMS   (cwd and PYTHONPATH: the tree to measure)

Only the participant's URLs and the test factories are used, which every revision has, so the same
file measures any tree. Prints one JSON line: {"wall": {endpoint: [ms, ...]}, "cpu": {...}}, the
wall-clock time of each request and the CPU time this process spent on it (the web side's own
work, which a busy shared machine disturbs far less than the wall clock).
"""

import itertools
import json
import os
import sys
import tempfile
import time
from collections import defaultdict

_ids = itertools.count()


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django  # lazy: Django is set up only after the settings' environment above
    from django.conf import settings  # lazy: Django is set up only after the settings' environment above

    django.setup()
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="iris-bench-media-")
    suffix = os.environ.get("BENCH_DB_SUFFIX", "bench")
    database = settings.DATABASES["default"]
    database["TEST"]["NAME"] = f"test_{database['NAME']}_{suffix}"


class Timed:
    """A test client whose requests are timed by endpoint. Before each request the connections are
    tidied as a server's request_started signal does (the test client skips it), so database health
    checks cost what they cost in production."""

    def __init__(self):
        from django.test import Client  # lazy: needs Django set up (_setup) first

        self.client = Client()
        self.ms: dict[str, list[float]] = defaultdict(list)  # wall-clock
        self.cpu_ms: dict[str, list[float]] = defaultdict(list)  # this process's CPU: steady on a busy machine

    def __call__(self, endpoint: str, method: str, url: str, **kwargs):
        from django.db import close_old_connections  # lazy: needs Django set up (_setup) first

        close_old_connections()
        began, began_cpu = time.perf_counter(), time.process_time()
        response = getattr(self.client, method)(url, **kwargs)
        self.ms[endpoint].append((time.perf_counter() - began) * 1000)
        self.cpu_ms[endpoint].append((time.process_time() - began_cpu) * 1000)
        assert response.status_code < 400, (endpoint, response.status_code)
        return response


def one_participant(timed: Timed, study) -> None:
    start, link = f"/s/{study.public_id}/", {"PROLIFIC_PID": f"p{next(_ids)}"}
    timed("start page", "get", start, data=link)
    page = timed("enter", "post", start, data=link)["Location"]
    timed("consent page", "get", page)
    timed("consent", "post", f"{page}consent", data={"agree": "yes"})
    timed("runner page", "get", page)
    while True:
        trials = timed("trials", "get", f"{page}trials", data={"n": 3}).json()["trials"]
        if not trials:
            break
        for trial in trials:
            for url in [trial["query"], *trial["options"]]:
                if url:
                    timed("image", "get", url)
            body = {"trial": trial["id"], "choice": 0, "rt_ms": 612.5, "idempotency_key": trial["id"],
                    "client_data": {"onset_ms": 10.0, "offset_ms": 210.0, "frame_ms": 16.7, "window": "1280x800",
                                    "interactions": [{"event": "focus", "trial": 1, "time": 1234}]}}
            timed("respond", "post", f"{page}responses", data=json.dumps(body), content_type="application/json")
    timed("finish", "post", f"{page}finish")


def main(participants: int, items: int) -> dict[str, dict[str, list[float]]]:
    _setup()
    from django.db import connection  # lazy: needs Django set up (_setup) first
    from django.test.utils import setup_test_environment  # lazy: needs Django set up (_setup) first

    from tests.surveys import factories  # lazy: the factories import models, so Django must be set up first

    setup_test_environment()
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        study = factories.study(factories.researcher("bench"), n_items=items)
        one_participant(Timed(), study)  # warm-up: imports, template and URL caches
        timed = Timed()
        for _ in range(participants):
            # A new browser is a new cookie jar, not a new Client: each Client builds its own handler,
            # whose first request loads the middleware (WhiteNoise lists every static file), which a
            # server does once per worker, not once per participant's start page.
            timed.client.cookies.clear()
            one_participant(timed, study)
        return {"wall": dict(timed.ms), "cpu": dict(timed.cpu_ms)}
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]))))
