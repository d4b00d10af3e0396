"""Real components for flow tests: headless Chromium (Debian's browser, driven by Playwright, never its
download) and real `celery worker` processes."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import redis
from django.conf import settings
from playwright.sync_api import sync_playwright

from surveys.generation.models import GenerationJob, JobStatus, ModelStatus, RegisteredModel

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's services, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
PHONE = {"viewport": {"width": 375, "height": 667}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@contextlib.contextmanager
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def fresh_contexts(browser):
    """The browser, with every context (and page) opened in the block closed when it ends, as closing a
    browser of its own would: pages made with browser.new_page() share no cookies, storage or cache."""
    try:
        yield browser
    finally:
        for context in browser.contexts:
            context.close()


def database_url() -> str:
    """The URL of the database this test process uses (pytest-django's test database)."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def celery_worker(*, extra_env: dict | None = None, fresh_broker: bool = True, queues: str = "gpu,inspect,default"):
    """A real `celery worker` process on the gpu, inspect and default queues (or on ``queues``), sharing this
    test's database and media.

    ``fresh_broker`` empties the broker first, so no message of an earlier test is delivered; a
    worker that must pick up what another left behind keeps it.
    """
    if fresh_broker:
        broker_empty()
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, **(extra_env or {})}
    # The worker writes its own copy of the descriptor; ours can close once it has started.
    with tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False) as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "surveys", "worker", "-Q", queues, "-c", "1",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test{time.time_ns()}@%h"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    worker.log_path = log.name
    try:
        yield worker
    finally:
        stop_worker(worker)


def broker_empty() -> None:
    """Drop every message in the broker, so no task of an earlier test is delivered."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def stop_worker(worker: subprocess.Popen, *, grace_s: float = 10) -> None:
    """A warm shutdown closes its database connections; a worker that hangs is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def trial_id_from_image_url(url: str) -> str:
    return re.search(r"/img/([^/]+)/", url).group(1)


def worker_log(worker: subprocess.Popen, *, tail: int = 4000) -> str:
    with open(worker.log_path, errors="replace") as log:
        return log.read()[-tail:]


def wait_for_job(job: GenerationJob, *, timeout_s: float, worker: subprocess.Popen) -> GenerationJob:
    """The job once it has ended; fails with the worker's log if it dies or the job takes too long."""
    ended = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
    return _wait_for_row(job, until=lambda row: row.status in ended, timeout_s=timeout_s, worker=worker)


def wait_for_model(model: RegisteredModel, *, timeout_s: float, worker: subprocess.Popen) -> RegisteredModel:
    """The model once a worker has inspected it (ready or refused); fails with the worker's log if it
    dies or the inspection takes too long."""
    return _wait_for_row(model, until=lambda row: row.status != ModelStatus.INSPECTING, timeout_s=timeout_s,
                         worker=worker)


def _wait_for_row(row, *, until, timeout_s: float, worker: subprocess.Popen):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row.refresh_from_db()
        if until(row):
            return row
        assert worker.poll() is None, worker_log(worker)
        time.sleep(0.5)
    raise AssertionError(f"{row} still {row.status} after {timeout_s} s; worker log:\n{worker_log(worker)}")
