"""Any architecture a lab uses: a timm model registered through the API and an operator-installed
one (an ``iris.architectures`` entry point) registered in admin, each with weights made here, each
running a job at an inner layer through the runner, as a worker runs it."""

import pytest
import timm
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save as safetensors_bytes

from iri_engine.controls import net
from surveys.generation.models import GenerationJob, JobStatus, RegisteredModel

pytestmark = pytest.mark.django_db

INPUT_SIZE = 32
MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


def weights_of(network) -> bytes:
    """A lab's trained weights, as they would upload them (random here: the path is what is tested)."""
    return safetensors_bytes({name: tensor.contiguous() for name, tensor in network.state_dict().items()})


def run_job_at(api, model_id: int, target_set_id: int, layer: str, capture) -> GenerationJob:
    with capture(execute=True):
        response = api.post("/api/jobs/", {"model": model_id, "target_set": target_set_id,
                                           "config": {"layers": [layer], "iterations": 15, "precision": "fp32"}},
                            format="json")
    assert response.status_code == 201, response.content
    return GenerationJob.objects.get(pk=response.json()["id"])


def test_a_timm_model_registered_through_the_api_runs_a_job_at_an_inner_layer(
        api_as, researcher, targets, inline_tasks, django_capture_on_commit_callbacks):
    # timm's smallest ResNet, built without pretrained weights (nothing is downloaded).
    network = timm.create_model("test_resnet", pretrained=False, num_classes=4)
    api = api_as(researcher)

    registered = api.post("/api/models/", {
        "name": "lab timm", "architecture": "timm:test_resnet", "input_size": INPUT_SIZE, "mean": MEAN, "std": STD,
        "num_classes": 4, "weights": SimpleUploadedFile("lab.safetensors", weights_of(network))}, format="multipart")

    assert registered.status_code == 201, registered.content
    model = RegisteredModel.objects.get(pk=registered.json()["id"])
    assert model.architecture == "timm:test_resnet" and model.num_outputs == 4
    assert model.layer_names.index("layer2") < model.layer_names.index("fc")  # an inner layer
    job = run_job_at(api, model.pk, targets.pk, "layer2", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    stimuli = list(job.stimuli.all())
    assert [s.layer for s in stimuli] == ["layer2"] * 3
    assert all(s.loss_curve[-1] < s.loss_curve[0] for s in stimuli)
    assert all(isinstance(s.passes, bool) and s.verdict["criterion"]["max_rep_loss"] == 0.1 for s in stimuli)


def test_an_installed_architecture_registered_in_admin_runs_a_job_at_an_inner_layer(
        client, api_as, researcher, targets, inline_tasks, django_capture_on_commit_callbacks):
    client.force_login(researcher)
    form = client.get("/admin/generation/registeredmodel/add/").content.decode()
    assert "timm:NAME" in form and "installed:NAME" in form  # the help text says what may be named

    response = client.post("/admin/generation/registeredmodel/add/", {
        "name": "lab digits", "architecture": "installed:iris_digits_resnet", "input_size": INPUT_SIZE,
        "mean_text": "0.5, 0.5, 0.5", "std_text": "0.25, 0.25, 0.25", "num_classes": 10, "init_seed": 0,
        "weights": SimpleUploadedFile("lab.safetensors", weights_of(net.build(num_classes=10)))})

    assert response.status_code == 302, response.content.decode()[-2000:]
    model = RegisteredModel.objects.get()
    assert model.is_classifier and "layer2" in model.layer_names
    job = run_job_at(api_as(researcher), model.pk, targets.pk, "layer2", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    stimuli = list(job.stimuli.all())
    assert [s.layer for s in stimuli] == ["layer2"] * 3
    assert all(s.loss_curve[-1] < s.loss_curve[0] for s in stimuli)
    assert all(isinstance(s.passes, bool) for s in stimuli)
