"""Registering models, uploading targets, submitting and running generation jobs."""

import io
import os
import pickle
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from surveys.celery import app as celery_app
from surveys.generation import runner, services
from surveys.generation.models import (
    BatchStatus,
    GenerationBatch,
    GenerationJob,
    JobStatus,
    RegisteredModel,
    Stimulus,
    TargetSet,
)
from tests.surveys import factories

pytestmark = pytest.mark.django_db
DEMO_SPEC = {"architecture": "resnet18", "input_size": 64, "mean": [0.485, 0.456, 0.406],
             "std": [0.229, 0.224, 0.225], "num_classes": 16}


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    from iri_engine.demo import write_demo_checkpoint

    path = tmp_path_factory.mktemp("checkpoints") / "demo.pt"
    write_demo_checkpoint(path)
    return path


@pytest.fixture
def researcher():
    return factories.researcher()


@pytest.fixture
def demo_model(researcher, checkpoint) -> RegisteredModel:
    """The demo network as registration would save it, without paying for inspection each test."""
    model = RegisteredModel(owner=researcher, name="demo", architecture="resnet18", input_size=64,
                            mean=DEMO_SPEC["mean"], std=DEMO_SPEC["std"], num_classes=16,
                            layer_names=["conv1", "layer1", "layer2", "layer3", "avgpool", "fc"])
    with open(checkpoint, "rb") as weights:
        model.weights.save("demo.pt", File(weights), save=False)
    model.save()
    return model


@pytest.fixture
def targets(researcher) -> TargetSet:
    colours = [(220, 30, 30), (30, 200, 40), (40, 40, 230)]
    uploads = [(f"t{i}.png", factories.png_bytes(c, size=80)) for i, c in enumerate(colours)]
    return services.target_set_create(owner=researcher, name="colours", uploads=uploads)


@pytest.fixture
def inline_tasks():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_it_registers_a_checkpoint_with_its_layers_and_hash(researcher, checkpoint):
    with open(checkpoint, "rb") as weights:
        model = services.model_register(owner=researcher, name="net", weights=File(weights, "demo.pt"),
                                        **{k: v for k, v in DEMO_SPEC.items()})

    assert "layer3" in model.layer_names
    assert model.is_classifier and model.num_outputs == 16
    import hashlib
    assert model.checkpoint_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


class Payload:
    """Unpickling this would create a file: the attack a malicious checkpoint carries."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_it_refuses_a_pickled_payload_and_never_runs_it(researcher, tmp_path):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"conv1.weight": Payload(str(marker))})
    upload = SimpleUploadedFile("evil.pt", data)

    with pytest.raises(ValidationError) as refused:
        services.model_register(owner=researcher, name="evil", weights=upload, **DEMO_SPEC)

    assert "state_dict" in str(refused.value) or "TorchScript" in str(refused.value)
    assert not marker.exists()
    assert not RegisteredModel.objects.exists()


def test_it_explains_an_unknown_architecture(researcher):
    with pytest.raises(ValidationError, match="resnet18"):
        services.model_register(owner=researcher, name="typo", weights=None, **{**DEMO_SPEC, "architecture": "resnet19"})
    assert not RegisteredModel.objects.exists()


def test_it_rejects_a_corrupt_image_and_keeps_nothing(researcher):
    good = ("good.png", factories.png_bytes((1, 2, 3)))
    corrupt = ("broken.png", factories.png_bytes((1, 2, 3))[:40])

    with pytest.raises(ValidationError, match="broken.png"):
        services.target_set_create(owner=researcher, name="mixed", uploads=[good, corrupt])
    assert not TargetSet.objects.exists()


def test_it_reads_a_zip_with_category_folders(researcher):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dog/1.png", factories.png_bytes((9, 9, 9)))
        archive.writestr("cat/2.png", factories.png_bytes((5, 5, 5)))
        archive.writestr("__MACOSX/._1.png", b"junk")

    target_set = services.target_set_create(owner=researcher, name="zip", uploads=[("set.zip", buffer.getvalue())])

    assert sorted(target_set.images.values_list("category", flat=True)) == ["cat", "dog"]


def test_it_names_close_layers_when_one_is_unknown(researcher, demo_model, targets):
    with pytest.raises(ValidationError, match="layer3"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer33"], "iterations": 10})
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_malformed_configuration(researcher, demo_model, targets):
    with pytest.raises(ValidationError, match="iterations"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "iterations": -5})
    assert not GenerationJob.objects.exists()


def test_it_refuses_another_researchers_model(demo_model, targets):
    other = factories.researcher("other")
    with pytest.raises(ValidationError):
        services.job_submit(owner=other, model=demo_model, target_set=targets, config={"layers": ["layer2"]})


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
        assert stimulus.checkpoint_sha256 == ""  or len(stimulus.checkpoint_sha256) == 64
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
    GenerationBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.QUEUED)
    runner.batch_run(batch_id=batch.pk)  # even if its row were claimable again

    assert Stimulus.objects.filter(job=job).count() == 3


def test_a_batch_under_a_fresh_lease_is_held_for_a_retry_and_claimable_once_it_expires(
        researcher, demo_model, targets, settings):
    job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                              config={"layers": ["layer1"], "iterations": 5})
    batch = job.batches.get()

    assert services.batch_claim(batch_id=batch.pk, worker="first") is services.Claim.CLAIMED
    assert services.batch_claim(batch_id=batch.pk, worker="second") is services.Claim.HELD
    expired = timezone.now() - timedelta(seconds=settings.IRIS_BATCH_LEASE_S + 1)
    GenerationBatch.objects.filter(pk=batch.pk).update(heartbeat_at=expired)  # the first worker died
    assert services.batch_claim(batch_id=batch.pk, worker="second") is services.Claim.CLAIMED
    assert GenerationBatch.objects.get(pk=batch.pk).claimed_by == "second"
    services.batch_finish(batch_id=batch.pk, status=BatchStatus.DONE)
    assert services.batch_claim(batch_id=batch.pk, worker="third") is services.Claim.CLOSED


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


def test_an_adversarial_job_needs_a_distance_and_never_scores_with_it(researcher, demo_model, targets):
    distance = {"model": demo_model.pk, "layers": ["layer1"]}
    with pytest.raises(ValidationError, match="perceptual distance"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "loss": "adversarial"})
    with pytest.raises(ValidationError, match="fooled by construction"):
        services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                            config={"layers": ["layer2"], "loss": "adversarial"}, perceptual=distance,
                            proxies=[distance])
    assert not GenerationJob.objects.exists()


def test_it_caches_the_validity_null_per_model_layer_and_targets(researcher, demo_model, targets, inline_tasks,
                                                                  django_capture_on_commit_callbacks, settings):
    from surveys.generation.models import NullDistributionCache

    settings.IRIS_BATCH_SIZE = 1
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(owner=researcher, model=demo_model, target_set=targets,
                                  config={"layers": ["layer1"], "iterations": 3})

    [null] = NullDistributionCache.objects.all()
    assert (null.layer, null.data["images"], null.data["pairs"]) == ("layer1", 3, 3)
    assert job.stimuli.filter(validity__passes__isnull=False).count() == 3


def test_the_admin_submits_a_job_with_layers_offered_from_the_network(client, researcher, demo_model, targets):
    client.force_login(researcher)
    page = client.get("/admin/generation/generationjob/submit/")
    assert f'value="{demo_model.pk}|layer3"' in page.content.decode()

    response = client.post("/admin/generation/generationjob/submit/", {
        "layers": [f"{demo_model.pk}|layer2"], "target_set": targets.pk, "loss": "reg_free", "seed_type": "super-noise",
        "seed_shared": "on", "optimizer": "ngd", "iterations": 10, "step_size": 1.0, "keep": "best",
        "parameterization": "pixel", "precision": "auto", "random_seed": 0, "perceptual": "",
        "proxies": f"{demo_model.name}: layer1"})

    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert job.config["layers"] == ["layer2"] and job.proxies == [{"model": demo_model.pk, "layers": ["layer1"]}]


def test_the_admin_shows_a_bad_distance_and_saves_nothing(client, researcher, demo_model, targets):
    client.force_login(researcher)
    response = client.post("/admin/generation/generationjob/submit/", {
        "layers": [f"{demo_model.pk}|layer2"], "target_set": targets.pk, "loss": "reg_free", "seed_type": "super-noise",
        "optimizer": "ngd", "iterations": 10, "step_size": 1.0, "keep": "best", "parameterization": "pixel",
        "precision": "auto", "random_seed": 0, "proxies": "no-such-model: layer1"})

    assert response.status_code == 200
    assert "no-such-model" in response.content.decode()
    assert not GenerationJob.objects.exists()


def test_another_classifier_reports_whether_it_recognises_the_iris(researcher, demo_model, targets, inline_tasks,
                                                                   django_capture_on_commit_callbacks):
    from surveys.generation.selectors import job_recognition

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
    assert summary["n"] == 3
    assert summary["accuracy"] == sum(row["agrees"] for row in rows) / 3


def test_a_cuda_out_of_memory_halves_the_batch_and_retries(researcher, demo_model, targets, monkeypatch):
    """The GPU is the boundary here: the first full-size attempt reports out of memory."""
    import torch

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

    assert sizes[:2] == [3, 1] or sizes[:3] == [3, 1, 1]
    assert Stimulus.objects.filter(job=job).count() == 3
