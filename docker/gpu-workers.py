#!/usr/bin/env python3
"""Write docker-compose.gpus.yml: one generation worker per GPU beyond the first, each pinned to its device.

    python3 docker/gpu-workers.py            # every GPU that nvidia-smi lists
    python3 docker/gpu-workers.py --gpus 4   # or say how many
    docker compose -f docker-compose.yml -f docker-compose.gpus.yml up -d

docker-compose.yml has worker-gpu-0 on GPU 0; worker-gpu-N is the same service on GPU N. `--scale`
cannot do this: every copy of one service gets the same device reservation. (Compose cannot `extends`
a service with depends_on, so the definition is written out whole.) The file is JSON, which is YAML.
"""

import argparse
import json
import subprocess
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "docker-compose.gpus.yml"


def gpu_count() -> int:
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def worker(index: int) -> dict:
    """worker-gpu-0 of docker-compose.yml on GPU ``index`` (a test holds the two equal)."""
    return {
        "image": "iris-gpu",
        "build": {"context": ".", "dockerfile": "docker/Dockerfile", "target": "gpu",
                  "args": {"BASE_IMAGE": "${IRIS_BASE_IMAGE:-debian:bookworm-slim}"}},
        "env_file": "${IRIS_ENV_FILE:-docker/.env}",
        "restart": "unless-stopped",
        "volumes": ["checkpoint-cache:/var/cache/iris"],
        "environment": {"IRIS_DEVICE": "cuda"},
        "command": ["celery", "-A", "surveys", "worker", "-Q", "gpu", "-n", f"gpu{index}@%h",
                    "--concurrency", "1", "--loglevel", "INFO"],
        "depends_on": {"migrate": {"condition": "service_completed_successfully"},
                       "create-bucket": {"condition": "service_completed_successfully"},
                       "redis": {"condition": "service_healthy"}},
        "deploy": {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", "device_ids": [str(index)], "capabilities": ["gpu"]}]}}},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, help="how many GPUs (default: as many as nvidia-smi lists)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    count = args.gpus if args.gpus is not None else gpu_count()
    services = {f"worker-gpu-{index}": worker(index) for index in range(1, count)}
    args.output.write_text(json.dumps({"services": services}, indent=2) + "\n")
    print(f"{args.output.name}: worker-gpu-0 .. worker-gpu-{count - 1}")


if __name__ == "__main__":
    main()
