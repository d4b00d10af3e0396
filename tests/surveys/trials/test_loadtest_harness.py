"""`make loadtest` runs end to end on a small crowd: the deployment's front server (nginx, with
docker/nginx.conf: static files and the images' X-Accel-Redirect), a real gunicorn, PostgreSQL and
Redis, the runner's protocol, and the count of acknowledged answers against stored rows (the
500-participant run and its fault mode are `make loadtest`)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(300)
def test_a_small_crowd_completes_and_every_acknowledged_answer_is_stored_once():
    done = subprocess.run([sys.executable, "-m", "bench", "loadtest", "--participants", "6", "--items", "2",
                           "--think-ms", "0", "--compare-seconds", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=280, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    tally = re.search(r"acknowledged answers (\d+), stored rows (\d+), lost (\d+), stored twice (\d+), "
                      r"disconnections (\d+), sessions unfinished (\d+)", done.stdout)
    acknowledged, stored, lost, twice, _, unfinished = map(int, tally.groups())
    assert acknowledged == stored == 6 * 2 and (lost, twice, unfinished) == (0, 0, 0)
    assert "trials left unanswered for an image that did not come: 0" in done.stdout  # X-Accel images arrive
    assert "a stored image asked for at the front server's internal location: HTTP 404" in done.stdout
    for endpoint in ("start", "consent", "static", "trials", "image", "respond", "finish"):
        assert re.search(rf"^{endpoint}\s+\d+\s+[\d.]+", done.stdout, re.MULTILINE), endpoint
    for floor in ("minimal Django view", "static file", "pgbench single-row inserts"):
        assert re.search(rf"^{floor}.*\s[\d.]+\s+[\d.]+$", done.stdout, re.MULTILINE), floor
