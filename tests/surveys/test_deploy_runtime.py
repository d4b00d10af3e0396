"""What the deployment's containers rely on, tried on real processes: a GPU worker without CUDA refuses
to start, checkpoint inspection has a queue of its own, and the health endpoint answers the probe that
container healthchecks run."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.core.files import File

from surveys import health
from surveys.generation import services
from surveys.generation.models import ModelStatus
from tests.surveys import factories
from tests.surveys.browser import broker_empty, celery_worker, stop_worker, wait_for_model
from tests.surveys.factories import DEMO_SPEC


def start_worker(*, queues: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "surveys", "worker", "-Q", queues, "-c", "1", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"deploy{time.time_ns()}@%h"],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_a_worker_told_to_use_cuda_refuses_to_start_without_it(settings):
    worker = start_worker(queues="gpu", env={"IRIS_DEVICE": "cuda", "CELERY_BROKER_URL": settings.CELERY_BROKER_URL})
    try:
        output, _ = worker.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stop_worker(worker)
        pytest.fail("the worker started and kept running with IRIS_DEVICE=cuda on a machine without CUDA")

    assert worker.returncode != 0
    assert "IRIS_DEVICE=cuda: device 'cuda' requested but CUDA is not available" in output


@pytest.mark.slow  # make test-slow: a deployment check; test_registration_on_a_worker.py has a worker inspect
@pytest.mark.django_db(transaction=True)
def test_inspection_is_answered_by_a_worker_on_the_inspect_queue_alone(settings, tmp_path):
    from iri_engine.demo import write_demo_checkpoint

    settings.IRIS_INSPECT_ON_WORKER = True
    broker_empty()
    spec = write_demo_checkpoint(tmp_path / "demo.pt")
    with open(spec.weights_path, "rb") as weights:
        model = services.model_register(owner=factories.researcher(), name="net", weights=File(weights, "demo.pt"),
                                        **DEMO_SPEC)
    with celery_worker(queues="inspect", fresh_broker=False) as worker:
        model = wait_for_model(model, timeout_s=120, worker=worker)

    assert model.status == ModelStatus.READY
    assert "layer3" in model.layer_names


@pytest.mark.django_db
def test_the_health_endpoint_answers_the_probe_with_an_allowed_host(live_server, settings, monkeypatch):
    settings.ALLOWED_HOSTS = ["iris.example.org"]
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "iris.example.org,localhost")

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{live_server.url}/healthz")
    assert refused.value.code == 400  # what the old healthcheck got: 127.0.0.1 is not an allowed host
    assert health.probe(f"{live_server.url}/healthz") == 0


@pytest.mark.parametrize(("allowed", "host"), [
    ("iris.example.org,localhost", "iris.example.org"), (".example.org", "example.org"), ("*", "localhost"),
    ("", "localhost"),
])
def test_the_probe_sends_a_host_that_the_allowed_hosts_accept(monkeypatch, allowed, host):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", allowed)

    assert health.allowed_host() == host
