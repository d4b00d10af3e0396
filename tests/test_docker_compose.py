"""docker-compose.yml is valid and describes the deployment docs/deploy.md promises. (`make deploy-check`
builds and runs it; these checks read what compose makes of the file, in seconds.)"""

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], check=False, capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("Neither `docker compose` nor `docker-compose` is installed (.ci/run installs docker-compose)")


@pytest.fixture
def project(tmp_path) -> Path:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    (tmp_path / "docker").mkdir()
    shutil.copy(ROOT / "docker" / ".env.example", tmp_path / "docker" / ".env")
    return tmp_path


def compose_config(project: Path, *files: str) -> dict:
    import yaml

    names = [arg for name in ("docker-compose.yml", *files) for arg in ("-f", name)]
    result = subprocess.run([*compose_command(), *names, "config"], check=False, cwd=project, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def queue(service: dict) -> str:
    return service["command"][service["command"].index("-Q") + 1]


def volume(entry: str | dict) -> str:
    """source:target, from either compose's short form (docker-compose 1) or long form (docker compose 2)."""
    return ":".join(entry.split(":")[:2]) if isinstance(entry, str) else f"{entry['source']}:{entry['target']}"


def test_it_is_a_valid_compose_file_with_every_service(project):
    services = compose_config(project)["services"]

    assert {"postgres", "redis", "minio", "create-bucket", "migrate", "web", "front", "worker", "worker-inspect",
            "worker-gpu-0"} == set(services)


def test_migrations_run_once_before_anything_that_uses_the_database(project):
    services = compose_config(project)["services"]

    assert services["migrate"]["restart"] == "no" and "migrate" in services["migrate"]["command"]
    for name in ("web", "worker", "worker-inspect", "worker-gpu-0"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_the_gpu_worker_is_pinned_to_gpu_0_and_must_have_cuda(project):
    gpu = compose_config(project)["services"]["worker-gpu-0"]

    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["device_ids"] == ["0"] and "gpu" in device["capabilities"]
    assert queue(gpu) == "gpu" and gpu["environment"]["IRIS_DEVICE"] == "cuda"
    assert "checkpoint-cache:/var/cache/iris" in [volume(v) for v in gpu["volumes"]]


def test_each_further_gpu_gets_the_same_worker_pinned_to_its_own_device(project):
    subprocess.run([sys.executable, str(ROOT / "docker" / "gpu-workers.py"), "--gpus", "3",
                    "--output", str(project / "docker-compose.gpus.yml")], check=True, capture_output=True)
    services = compose_config(project, "docker-compose.gpus.yml")["services"]

    def without_device(service: dict) -> dict:
        service = json.loads(json.dumps(service))
        service["deploy"]["resources"]["reservations"]["devices"][0].pop("device_ids")
        service["command"][service["command"].index("-n") + 1] = "the worker's name"
        return service

    for index in (1, 2):
        worker = services[f"worker-gpu-{index}"]
        assert worker["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] == [str(index)]
        assert without_device(worker) == without_device(services["worker-gpu-0"])
    assert "worker-gpu-3" not in services


def test_inspection_has_its_own_worker_and_queue(project):
    services = compose_config(project)["services"]

    assert queue(services["worker-inspect"]) == "inspect"
    assert services["worker-inspect"]["environment"]["IRIS_DEVICE"] == "cpu"
    assert "deploy" not in services["worker-inspect"]  # it holds no GPU
    assert queue(services["worker"]) == "default"


def test_the_front_server_is_the_only_published_port_and_web_is_checked_with_an_allowed_host(project):
    services = compose_config(project)["services"]

    assert [name for name, service in services.items() if service.get("ports")] == ["front"]
    assert services["front"]["build"]["target"] == "front"
    assert services["web"]["healthcheck"]["test"][1:4] == ["python", "-m", "surveys.health"]
    assert services["web"]["environment"]["IRIS_CLIENT_IP_META_KEY"] == "HTTP_X_REAL_IP"


def test_every_image_builds_from_the_base_given_as_argument(project):
    services = compose_config(project)["services"]
    built = {name: service["build"] for name, service in services.items() if "build" in service}

    assert set(built) == {"migrate", "web", "front", "worker", "worker-inspect", "worker-gpu-0"}
    assert {b["args"]["BASE_IMAGE"] for b in built.values()} == {"debian:bookworm-slim"}
    assert {b["target"] for b in built.values()} == {"web", "front", "gpu"}


# The one torch of IRIS. 2.6.0 fixed torch.load(weights_only=True) running code (CVE-2025-32434);
# registration relies on weights_only for every uploaded state_dict.
TORCH_PIN, TORCH_FIRST_SAFE = "2.14.1", (2, 6)
TORCH_VERSION_NAMED = r"torch(vision)?\s*[=<>~]=\s*\d|pytorch/pytorch:"  # a requirement or a base image


def test_torch_is_pinned_in_pyproject_alone():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()

    assert "torch==" not in dockerfile and "torchvision==" not in dockerfile
    assert "python requirements.py engine" in dockerfile and "pip install -r engine.txt" in dockerfile


def test_one_torch_free_of_the_weights_only_flaw_is_pinned_for_pyproject_the_images_and_the_tests():
    engine = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["engine"]
    image_requirements = subprocess.run([sys.executable, "docker/requirements.py", "engine"], cwd=ROOT, check=True,
                                        capture_output=True, text=True).stdout.splitlines()
    elsewhere = [str(path.relative_to(ROOT)) for path in ROOT.joinpath("docker").rglob("*")
                 if path.is_file() and re.search(TORCH_VERSION_NAMED, path.read_text(errors="ignore"))]

    assert f"torch=={TORCH_PIN}" in engine
    assert f"torch=={TORCH_PIN}" in image_requirements  # what every image installs
    assert elsewhere == []  # no image names a torch of its own
    assert importlib.metadata.version("torch").split("+")[0] == TORCH_PIN  # the one the tests run
    assert tuple(int(part) for part in TORCH_PIN.split(".")[:2]) >= TORCH_FIRST_SAFE


def test_every_service_reads_real_services_from_the_environment(project):
    environment = compose_config(project)["services"]["web"]["environment"]

    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["CELERY_BROKER_URL"].startswith("redis://")
    assert environment["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    json.dumps(environment)  # plain strings only


def test_the_check_override_replaces_registry_images_by_local_builds(project):
    shutil.copytree(ROOT / "docker" / "check", project / "docker" / "check")
    services = compose_config(project, "docker/check/compose.check.yml")["services"]

    for name in ("postgres", "redis", "minio"):
        assert services[name]["build"]["dockerfile"] == "docker/check/standins.Dockerfile", name
    assert services["create-bucket"]["image"] == "iris-check-s3"
    assert {queue(services[f"worker-host-{h}"]) for h in "ab"} == {"gpu"}


def test_the_check_runs_the_web_images_gunicorn_with_only_an_access_log_added(project):
    """drive.py reads web's access log to show that no static file reached Python; the image itself
    leaves logging to the front server. Nothing else may differ from what is deployed."""
    shutil.copytree(ROOT / "docker" / "check", project / "docker" / "check")
    web = compose_config(project, "docker/check/compose.check.yml")["services"]["web"]
    deployed = re.search(r'GUNICORN_CMD_ARGS="([^"]*)"', (ROOT / "docker" / "Dockerfile").read_text()).group(1)

    assert "--access-logfile" not in deployed
    assert web["environment"]["GUNICORN_CMD_ARGS"] == f"{deployed} --access-logfile -"
