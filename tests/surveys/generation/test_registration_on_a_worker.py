"""Registering a model where the web process has no torch (IRIS_INSPECT_ON_WORKER, the deployment's
setting): the API answers 202 at once with the model "inspecting", a real worker of the inspect queue
inspects the stored checkpoint, and polling the model finds it ready, or refused with the reason and
no file left. Without a worker (the embedded default) registration answers 201, ready."""

import hashlib
import pickle
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from surveys.generation import services
from surveys.generation.models import ModelStatus, RegisteredModel
from tests.surveys import factories
from tests.surveys.browser import broker_empty, celery_worker, wait_for_model

INSPECTION_TIMEOUT_S = 180


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def register(api, name: str, weights):
    return api.post("/api/models/", {"name": name, "weights": weights, **factories.DEMO_SPEC}, format="multipart")


def targets_of(owner):
    return services.target_set_create(owner=owner, name="targets", uploads=[
        (f"{i}.png", factories.png_bytes((60 * i, 30, 200 - 60 * i), size=64)) for i in range(2)])


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_it_answers_202_and_a_worker_makes_the_model_ready_with_its_layers(settings, api_as, researcher, checkpoint):
    settings.IRIS_INSPECT_ON_WORKER = True
    api, targets = api_as(researcher), targets_of(researcher)
    job = {"target_set": targets.pk, "config": {"layers": ["layer3"], "iterations": 5}}
    broker_empty()

    with open(checkpoint, "rb") as weights:
        answer = register(api, "net", weights)
    too_soon = api.post("/api/jobs/", {**job, "model": answer.json()["id"]}, format="json")
    with celery_worker(fresh_broker=False) as worker:  # the registration's task is waiting for it
        wait_for_model(RegisteredModel.objects.get(pk=answer.json()["id"]), timeout_s=INSPECTION_TIMEOUT_S,
                       worker=worker)
    polled = api.get(answer["Location"])
    accepted = api.post("/api/jobs/", {**job, "model": answer.json()["id"]}, format="json")

    assert answer.status_code == 202
    assert (answer.json()["status"], answer.json()["layer_names"]) == ("inspecting", [])
    assert answer["Location"].endswith(f"/api/models/{answer.json()['id']}/")
    assert too_soon.status_code == 400
    assert too_soon.json() == {"detail": ["net is still being inspected: it can be used once its status is ready."]}
    model = polled.json()
    assert (polled.status_code, model["status"], model["error"]) == (200, "ready", "")
    assert "layer3" in model["layer_names"]
    assert model["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert accepted.status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(300)
def test_a_bad_checkpoint_is_refused_with_the_reason_and_leaves_no_file(settings, api_as, researcher, checkpoint,
                                                                        tmp_path):
    settings.IRIS_INSPECT_ON_WORKER = True
    api = api_as(researcher)
    marker = tmp_path / "pwned"
    evil = SimpleUploadedFile("evil.pt", pickle.dumps({"conv1.weight": factories.PickledPayload(str(marker))}))

    broker_empty()

    answer = register(api, "net", evil)
    stored_while_inspecting = stored_files(settings)
    with celery_worker(fresh_broker=False) as worker:
        refused = wait_for_model(RegisteredModel.objects.get(pk=answer.json()["id"]),
                                 timeout_s=INSPECTION_TIMEOUT_S, worker=worker)
        polled = api.get(answer["Location"]).json()
        stored_once_refused = stored_files(settings)
        with open(checkpoint, "rb") as weights:
            again = register(api, "net", weights)  # the same name, now with a checkpoint that loads
        ready = wait_for_model(RegisteredModel.objects.get(pk=again.json()["id"]), timeout_s=INSPECTION_TIMEOUT_S,
                               worker=worker)

    assert answer.status_code == 202
    assert len(stored_while_inspecting) == 1
    assert refused.status == ModelStatus.REFUSED
    assert (polled["status"], polled["layer_names"]) == ("refused", [])
    assert "pickled Python objects" in polled["error"]
    assert not marker.exists()
    assert stored_once_refused == []
    assert not refused.weights
    assert again.status_code == 202
    assert ready.status == ModelStatus.READY
    assert list(RegisteredModel.objects.values_list("pk", flat=True)) == [ready.pk]  # the refused one was replaced


@pytest.mark.django_db
def test_without_a_worker_it_inspects_in_the_request_and_answers_201_ready(settings, api_as, researcher, checkpoint):
    settings.IRIS_INSPECT_ON_WORKER = False

    with open(checkpoint, "rb") as weights:
        answer = register(api_as(researcher), "net", weights)

    assert answer.status_code == 201
    assert "Location" not in answer
    assert (answer.json()["status"], answer.json()["error"]) == ("ready", "")
    assert "layer3" in answer.json()["layer_names"]


@pytest.mark.django_db
def test_a_refused_model_is_refused_as_a_job_recognizer_or_distance_with_its_reason(api_as, researcher):
    ready = factories.registered_model(researcher)
    refused = factories.registered_model(researcher)
    RegisteredModel.objects.filter(pk=refused.pk).update(status=ModelStatus.REFUSED, error="Not a checkpoint.")
    base = {"target_set": targets_of(researcher).pk, "config": {"layers": ["layer2"], "iterations": 5}}
    api = api_as(researcher)

    as_model = api.post("/api/jobs/", {**base, "model": refused.pk}, format="json")
    as_recognizer = api.post("/api/jobs/", {**base, "model": ready.pk, "recognizers": [refused.pk]}, format="json")
    as_proxy = api.post("/api/jobs/", {**base, "model": ready.pk,
                                       "proxies": [{"model": refused.pk, "layers": ["layer2"]}]}, format="json")

    reason = f"{refused.name} was refused at registration (Not a checkpoint.): register a checkpoint that loads instead."
    assert as_model.json() == {"detail": [reason]}
    assert as_recognizer.json() == {"detail": [f"Recognizer: {reason}"]}
    assert as_proxy.json() == {"detail": [f"Proxy distance: {reason}"]}
