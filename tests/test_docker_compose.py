"""docker-compose.yml is valid and describes the deployment the README promises."""

import json
import shutil
import subprocess
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


def compose_config(project: Path) -> dict:
    import yaml

    result = subprocess.run([*compose_command(), "config"], check=False, cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_it_is_a_valid_compose_file_with_every_service(project):
    config = compose_config(project)

    assert {"postgres", "redis", "minio", "web", "worker", "worker-gpu"} <= set(config["services"])


def test_the_gpu_worker_reserves_an_nvidia_device_and_takes_the_gpu_queue(project):
    gpu = compose_config(project)["services"]["worker-gpu"]

    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert gpu["command"][gpu["command"].index("-Q") + 1] == "gpu"


def test_the_web_and_cpu_worker_use_the_image_without_torch(project):
    services = compose_config(project)["services"]

    assert services["web"]["build"]["dockerfile"].endswith("web.Dockerfile")
    assert services["worker"]["command"][services["worker"]["command"].index("-Q") + 1] == "default"
    assert "torch" not in (ROOT / "docker" / "web.Dockerfile").read_text().replace("No torch", "")


def test_every_service_reads_real_services_from_the_environment(project):
    environment = compose_config(project)["services"]["web"]["environment"]

    assert environment["DATABASE_URL"].startswith("postgres://")
    assert environment["CELERY_BROKER_URL"].startswith("redis://")
    assert environment["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    json.dumps(environment)  # plain strings only
