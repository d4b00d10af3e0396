"""`make loadtest` runs end to end on a small crowd: the deployment's front server (nginx, with
docker/nginx.conf: static files and the images' signed links), a real gunicorn, PostgreSQL and
Redis, the runner's protocol, and the count of acknowledged answers against stored rows (the
500-participant run and its fault mode are `make loadtest`)."""

import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow  # make test-slow: nginx, gunicorn and a crowd for three minutes
@pytest.mark.timeout(300)
def test_a_small_crowd_completes_and_every_acknowledged_answer_is_stored_once():
    scratch_before = set(Path(tempfile.gettempdir()).glob("iris-loadtest-*"))
    done = subprocess.run([sys.executable, "-m", "bench", "loadtest", "--participants", "6", "--items", "2",
                           "--think-ms", "0", "--compare-seconds", "1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=280, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    tally = re.search(r"acknowledged answers (\d+), stored rows (\d+), lost (\d+), stored twice (\d+), "
                      r"disconnections (\d+), sessions unfinished (\d+)", done.stdout)
    acknowledged, stored, lost, twice, _, unfinished = map(int, tally.groups())
    assert acknowledged == stored == 6 * 2 and (lost, twice, unfinished) == (0, 0, 0)
    assert "trials left unanswered for an image that did not come: 0" in done.stdout
    # Every image by a signed link that nginx checked and served alone (docker/nginx.conf, "/_iris_img/").
    linked, images = map(int, re.search(r"signed links, served without Django: (\d+) of (\d+)", done.stdout).groups())
    assert linked == images > 0
    assert "a stored image asked for at the front server's internal location: HTTP 404" in done.stdout
    for endpoint in ("start", "consent", "static", "trials", "image", "respond", "finish"):
        assert re.search(rf"^{endpoint}\s+\d+\s+[\d.]+", done.stdout, re.MULTILINE), endpoint
    for floor in ("minimal Django view", "static file", "pgbench single-row inserts"):
        assert re.search(rf"^{floor}.*\s[\d.]+\s+[\d.]+$", done.stdout, re.MULTILINE), floor
    assert re.search(r"participants taking part at once: at most [1-6], ", done.stdout)
    assert set(Path(tempfile.gettempdir()).glob("iris-loadtest-*")) == scratch_before  # its scratch folder is gone


@pytest.mark.timeout(60)
def test_when_the_web_service_does_not_answer_the_front_server_says_try_again_later(tmp_path):
    """docker/nginx.conf, with nothing listening behind it (a killed worker, a restart): 503 with
    Retry-After, which the runner and the page retry, never a bare 502."""
    from bench.loadtest import Front, free_port

    tmp_path.chmod(0o755)
    with Front(free_port(), static_root=tmp_path, media_root=tmp_path, scratch=tmp_path) as front:
        try:
            urllib.request.urlopen(f"{front.url}/s/some-study/", timeout=10)
            raise AssertionError("the front server answered without its web service")
        except urllib.error.HTTPError as refused:
            assert refused.code == 503 and int(refused.headers["Retry-After"]) > 0
            assert b"tries again" in refused.read()


def test_the_sustained_rate_is_the_middle_half_of_the_answers_not_the_arrivals_ramp():
    from bench.crowd import sustained_rate

    ramp = [i * 0.4 for i in range(25)]  # arrivals: 25 answers over 10 s
    steady = [10 + i * 0.01 for i in range(50)]  # then 100 answers/s
    stragglers = [10.5 + i * 0.4 for i in range(25)]
    times = ramp + steady + stragglers

    assert sustained_rate(times) == pytest.approx(100, rel=0.05)
    assert len(times) / max(times) < 10  # the whole run's average says ten times less


def test_participants_at_once_counts_overlapping_sessions_and_how_long_the_crowd_stayed_near_its_peak():
    from bench.crowd import concurrency

    # Ten sessions of 10 s starting a second apart: all ten overlap only at 9-10 s, nine or more at 8-11 s.
    staggered = [(start, start + 10.0) for start in range(10)]
    assert concurrency(staggered) == (10, pytest.approx(3.0))
    # The same ten arriving within 0.1 s: nine or more at once from the ninth start to the second finish.
    together = [(start / 100, start / 100 + 10.0) for start in range(10)]
    assert concurrency(together) == (10, pytest.approx(10.01 - 0.08))
    # One after another: never more than one at once.
    assert concurrency([(start, start + 1.0) for start in range(0, 20, 2)])[0] == 1
    assert concurrency([]) == (0, 0.0)


def test_the_database_s_cpu_counts_backends_that_ended_during_the_crowd_but_not_their_time_before_it():
    from bench.loadtest import cpu_spent

    # Backend 11 had spent 1.0 s before the crowd and ended during it; 12 lived through; 13 began.
    # The postmaster's reaped children (key 0) grew by 3.5 s: backend 11's whole life and others that ended.
    before = {"gunicorn": 5.0, "PostgreSQL": {0: 10.0, 11: 1.0, 12: 2.0}, "machine": 100.0, "stolen by the host": 0.0}
    after = {"gunicorn": 7.0, "PostgreSQL": {0: 13.5, 12: 2.5, 13: 0.7}, "machine": 110.0, "stolen by the host": 0.0}

    spent = cpu_spent(before, after)

    assert spent["PostgreSQL"] == pytest.approx(3.5 - 1.0 + 0.5 + 0.7)
    assert spent["rest of the machine"] == pytest.approx(10.0 - 2.0 - 3.7)
