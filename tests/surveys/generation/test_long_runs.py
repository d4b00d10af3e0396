"""A long batch on a real worker: its heartbeat and its cancel go by the clock, not by steps.

Reports came every iterations/100 steps: a 1,000,000-step batch ignored its cancel for half an hour,
and its lease went stale while it still ran, so a redelivered copy could claim it a second time."""

import time

import pytest
from django.utils import timezone

from surveys.generation import services
from surveys.generation.models import Claim, GenerationBatch, JobStatus
from tests.surveys import factories
from tests.surveys.browser import celery_worker, wait_for_job, worker_log

# slow (make test-slow): a real worker keeps a long batch's lease for a while before the cancel.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# Short enough to run out several times while we watch; longer than loading the network on a busy machine.
LEASE_S = 10
# The runner beats at least every PROGRESS_EVERY_S (2 s) of wall clock; a cancel is seen at the next beat.
CANCEL_SEEN_WITHIN_S = 10
WATCH_S = 2 * LEASE_S + 5


def wait_until_claimed(job, *, timeout_s: float, worker) -> GenerationBatch:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = job.batches.filter(status=JobStatus.RUNNING).first()
        if batch:
            return batch
        assert worker.poll() is None, worker_log(worker)
        time.sleep(0.2)
    raise AssertionError(f"the batch never started; worker log:\n{worker_log(worker)}")


def test_a_million_step_batch_keeps_its_lease_and_stops_within_seconds_of_a_cancel(settings, researcher,
                                                                                    checkpoint):
    settings.IRIS_BATCH_LEASE_S = LEASE_S  # this process's claims judge staleness as the worker does
    model = factories.demo_model_registered(researcher, checkpoint)
    targets = services.target_set_create(owner=researcher, name="t", uploads=[
        ("a.png", factories.png_bytes((200, 40, 90), size=64)),
        ("b.png", factories.png_bytes((30, 160, 90), size=64))])  # two: the validity null pairs naturals

    with celery_worker(extra_env={"IRIS_BATCH_LEASE_S": str(LEASE_S)}) as worker:
        job = services.job_submit(owner=researcher, model=model, target_set=targets,
                                  config={"layers": ["layer2"], "iterations": 1_000_000})
        batch = wait_until_claimed(job, timeout_s=180, worker=worker)
        # A redelivered copy of the task, asking again and again while the first copy runs.
        watched_until = time.monotonic() + WATCH_S
        while time.monotonic() < watched_until:
            assert services.batch_claim(batch_id=batch.pk, worker="redelivered copy") is Claim.HELD
            time.sleep(0.5)
        batch.refresh_from_db()
        assert (timezone.now() - batch.heartbeat_at).total_seconds() < LEASE_S
        assert batch.attempts == 1 and batch.steps_done > 0

        services.job_cancel(job=job)
        asked = time.monotonic()
        job = wait_for_job(job, timeout_s=60, worker=worker)
        stopped_after_s = time.monotonic() - asked

    assert job.status == JobStatus.CANCELLED
    assert stopped_after_s < CANCEL_SEEN_WITHIN_S
    assert not job.stimuli.exists()
