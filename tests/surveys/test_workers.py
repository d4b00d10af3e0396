"""Real Celery workers: surviving a killed worker. (Inspection for a torch-free web process:
tests/surveys/generation/test_registration_on_a_worker.py.)"""

import os
import signal
import time

import pytest

from surveys.generation import services
from surveys.generation.models import GenerationBatch, JobStatus, Stimulus
from tests.surveys import factories
from tests.surveys.browser import celery_worker, wait_for_job

# slow (make test-slow): two worker processes, the first killed mid-batch, the second waiting out its lease.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# Short lease and visibility timeout so a killed worker's batch comes back within seconds.
FAST_RECOVERY = {"CELERY_VISIBILITY_TIMEOUT_S": "4", "IRIS_BATCH_LEASE_S": "3", "CELERY_RESTORE_INTERVAL_S": "1"}


def wait_until_running(job, *, timeout_s: float) -> GenerationBatch:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batch = job.batches.filter(status=JobStatus.RUNNING, steps_done__gt=0).first()
        if batch:
            return batch
        time.sleep(0.2)
    raise AssertionError("no batch started")


def test_a_job_survives_a_worker_killed_mid_batch(settings, researcher, checkpoint):
    settings.IRIS_BATCH_SIZE = 2
    model = factories.demo_model_registered(researcher, checkpoint)
    targets = services.target_set_create(owner=researcher, name="t", uploads=[
        (f"{i}.png", factories.png_bytes((40 * i, 200 - 30 * i, 90), size=64)) for i in range(4)])

    with celery_worker(extra_env=FAST_RECOVERY) as doomed:
        job = services.job_submit(owner=researcher, model=model, target_set=targets,
                                  config={"layers": ["layer2"], "iterations": 150})
        victim = wait_until_running(job, timeout_s=120)
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool child die mid-batch
        doomed.wait()
    assert job.batches.get(pk=victim.pk).status == JobStatus.RUNNING

    with celery_worker(extra_env=FAST_RECOVERY, fresh_broker=False) as rescuer:
        job = wait_for_job(job, timeout_s=300, worker=rescuer)

    assert job.status == JobStatus.DONE, job.error
    assert Stimulus.objects.filter(job=job).count() == 4
    assert set(Stimulus.objects.filter(job=job).values_list("target_id", flat=True)) == set(
        targets.images.values_list("id", flat=True))
    assert job.batches.get(pk=victim.pk).attempts >= 2
