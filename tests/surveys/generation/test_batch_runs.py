"""Running generation batches: IRIs into storage, exactly once per target and layer, under a lease,
cancellable, failing with a reason, with validity, proxies and model-to-model recognition."""

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from django.utils import timezone

from surveys.generation import runner, services
from surveys.generation.models import Claim, GenerationBatch, JobStatus, NullDistributionCache, Stimulus
from surveys.scoring.selectors import job_recognition

pytestmark = pytest.mark.django_db


def demo_model_sha256(model) -> str:
    return hashlib.sha256(model.weights.open("rb").read()).hexdigest()


def test_it_generates_iris_into_storage(researcher, demo_model, targets, inline_tasks,
                                         django_capture_on_commit_callbacks, settings):
    settings.IRIS_BATCH_SIZE = 2
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer2"], "iterations": 40, "random_seed": 3})

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    assert job.batches.count() == 2
    stimuli = list(Stimulus.objects.filter(job=job))
    assert len(stimuli) == 3
    for stimulus in stimuli:
        assert stimulus.iri_png.open("rb").read().startswith(b"\x89PNG")
        assert stimulus.loss_curve[-1] < stimulus.loss_curve[0]
        # The curve is the loop's own (bf16 where the CPU has it), the stored loss is exact fp32.
        assert stimulus.final_rep_loss <= min(stimulus.loss_curve) * 1.01
        assert stimulus.checkpoint_sha256 == demo_model_sha256(demo_model)
        assert {"spearman", "pearson", "db_snr", "passes", "class_agrees"} <= set(stimulus.validity)
    # One starting point shared by the whole run (Nanda), across batches.
    seeds = {s.seed_png.open("rb").read() for s in stimuli}
    assert len(seeds) == 1


def test_a_redelivered_batch_stores_nothing_twice(researcher, demo_model, targets, inline_tasks,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer1"], "iterations": 5})
    batch = job.batches.get()

    runner.batch_run(batch_id=batch.pk)  # the broker delivers the same task again
    GenerationBatch.objects.filter(pk=batch.pk).update(status=JobStatus.QUEUED)
    runner.batch_run(batch_id=batch.pk)  # even if its row were claimable again

    assert Stimulus.objects.filter(job=job).count() == 3


def test_a_batch_under_a_fresh_lease_is_held_for_a_retry_and_claimable_once_it_expires(
        researcher, demo_model, targets, settings):
    job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                              config={"layers": ["layer1"], "iterations": 5})
    batch = job.batches.get()

    assert services.batch_claim(batch_id=batch.pk, worker="first") is Claim.CLAIMED
    assert services.batch_claim(batch_id=batch.pk, worker="second") is Claim.HELD
    expired = timezone.now() - timedelta(seconds=settings.IRIS_BATCH_LEASE_S + 1)
    GenerationBatch.objects.filter(pk=batch.pk).update(heartbeat_at=expired)  # the first worker died
    assert services.batch_claim(batch_id=batch.pk, worker="second") is Claim.CLAIMED
    assert GenerationBatch.objects.get(pk=batch.pk).claimed_by == "second"
    services.batch_finish(batch_id=batch.pk, status=JobStatus.DONE)
    assert services.batch_claim(batch_id=batch.pk, worker="third") is Claim.CLOSED


def test_a_worker_whose_lease_was_taken_over_stops_and_cannot_finish_the_batch(researcher, demo_model, targets,
                                                                                settings):
    job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                              config={"layers": ["layer1"], "iterations": 5})
    batch = job.batches.get()
    services.batch_claim(batch_id=batch.pk, worker="stalled")
    expired = timezone.now() - timedelta(seconds=settings.IRIS_BATCH_LEASE_S + 1)
    GenerationBatch.objects.filter(pk=batch.pk).update(heartbeat_at=expired)
    services.batch_claim(batch_id=batch.pk, worker="rescuer")

    assert services.batch_progress(batch_id=batch.pk, worker="stalled", steps_done=3, loss=1.0) is False
    services.batch_finish(batch_id=batch.pk, worker="stalled", status=JobStatus.FAILED, error="stalled")
    batch.refresh_from_db()
    assert (batch.status, batch.claimed_by, batch.steps_done) == (JobStatus.RUNNING, "rescuer", 0)
    assert services.batch_progress(batch_id=batch.pk, worker="rescuer", steps_done=3, loss=1.0) is True


def test_a_cancelled_job_runs_no_queued_batch(researcher, demo_model, targets):
    job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                              config={"layers": ["layer1"], "iterations": 5})

    services.job_cancel(job=job)
    runner.batch_run(batch_id=job.batches.get().pk)

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not job.stimuli.exists()


def test_a_failing_batch_marks_the_job_failed_with_the_reason(researcher, demo_model, targets, inline_tasks,
                                                              django_capture_on_commit_callbacks):
    demo_model.weights.save("other.pt", io.BytesIO(b"not a checkpoint"), save=True)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer1"], "iterations": 5})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "batch 0" in job.error


def test_a_run_whose_loss_becomes_nan_fails_with_the_reason_stores_nothing_and_jobs_still_answer(
        researcher, demo_model, targets, inline_tasks, django_capture_on_commit_callbacks, settings, tmp_path, api_as):
    """The NaN loss was saved as the batch's current loss, and GET /api/jobs/ answered 500 ever after."""
    weights = torch.load(demo_model.weights.path, weights_only=True)
    weights["conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(weights, tmp_path / "nan.pt")
    demo_model.weights.save("nan.pt", io.BytesIO((tmp_path / "nan.pt").read_bytes()), save=True)
    media = Path(settings.MEDIA_ROOT)
    files_before = sorted(media.rglob("*"))

    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer1"], "iterations": 30})

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "diverged" in job.error and "NaN" in job.error
    assert not Stimulus.objects.filter(job=job).exists()
    assert sorted(media.rglob("*")) == files_before
    answer = api_as(researcher).get("/api/jobs/")
    assert answer.status_code == 200
    assert answer.json()[0]["status"] == "failed"


def test_it_scores_each_iri_under_the_proxy_distances(researcher, demo_model, targets, inline_tasks,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer2"], "iterations": 20},
                                  proxies=[{"model": demo_model.pk, "layers": ["layer1", "layer2"]}])

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    for stimulus in job.stimuli.all():
        [(name, proxy)] = stimulus.proxy.items()
        assert name == "demo:layer1+layer2"
        assert proxy["aligned"] == (proxy["d_target"] <= proxy["d_seed"])


def test_it_caches_the_validity_null_per_model_layer_and_targets(researcher, demo_model, targets, inline_tasks,
                                                                  django_capture_on_commit_callbacks, settings):
    settings.IRIS_BATCH_SIZE = 1
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer1"], "iterations": 3})

    [null] = NullDistributionCache.objects.all()
    assert (null.layer, null.data["images"], null.data["pairs"]) == ("layer1", 3, 3)
    assert job.stimuli.filter(validity__passes__isnull=False).count() == 3


def test_another_classifier_reports_whether_it_recognises_the_iris(researcher, demo_model, targets, inline_tasks,
                                                                   django_capture_on_commit_callbacks):
    demo_model.is_classifier = True
    demo_model.save()
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["avgpool"], "iterations": 60}, recognizers=[demo_model.pk])

    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    rows = [s.recognition["demo"] for s in job.stimuli.all()]
    assert all(row["agrees"] == (row["target_class"] == row["iri_class"]) for row in rows)
    summary = job_recognition(job=job)["demo"]
    assert summary.n == 3
    assert summary.accuracy == sum(row["agrees"] for row in rows) / 3


def test_a_cuda_out_of_memory_halves_the_batch_and_retries(researcher, demo_model, targets, monkeypatch):
    """The GPU is the boundary here: every attempt at more than one image reports out of memory."""
    real_generate = runner.generate
    sizes = []

    def generate_with_little_memory(loaded, images, *args, **kwargs):
        sizes.append(len(images))
        if len(images) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_generate(loaded, images, *args, **kwargs)

    monkeypatch.setattr(runner, "generate", generate_with_little_memory)
    job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                              config={"layers": ["layer1"], "iterations": 3})
    runner.batch_run(batch_id=job.batches.get().pk)

    assert sizes == [3, 1, 1, 1]  # halved from 3 to 1, then the three images one at a time
    assert Stimulus.objects.filter(job=job).count() == 3
