"""Checking a checkpoint at registration without loading torch into the web process.

Where the engine is installed beside the web app (the embedded default), its inspector runs in a
subprocess (``python -m iri_engine.inspect``). Where it is not (the torch-free web image of a
deployment), an engine worker inspects the file through the ``generation.checkpoint_inspect`` task
on the ``inspect`` queue (its own, so it never waits behind generation batches) and the form waits
for its answer. Either way the checkpoint is loaded safely, its layer names are listed and its
SHA-256 taken, and a broken file, a pickled model or a mismatched state_dict is
reported to the researcher here, not as a crash in a worker later. A code-bearing model
(TorchScript) is inspected in the engine's sandbox instead (``iri_engine.sandbox``), whose refusals
are fixed messages that never carry what the model wrote.
"""

import json
import subprocess
import sys
import uuid
from pathlib import Path

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage

from iri_engine.sandbox import SandboxError, SandboxLimits, inspect_confined, is_code_bearing
from surveys.generation.tasks import generation_checkpoint_inspect

INSPECTION_TIMEOUT_S = 180


def checkpoint_inspect(*, model_spec: dict) -> dict:
    """Return the engine's ModelInfo as a dict, or raise ValidationError with the engine's message."""
    if settings.IRIS_INSPECT_ON_WORKER:
        answer = _inspect_on_worker(model_spec)
    elif is_code_bearing(model_spec["architecture"]):
        answer = code_model_inspect(model_spec=model_spec)
    else:
        answer = _inspect_here(model_spec)
    if "error" in answer:
        raise ValidationError(answer["error"])
    return answer


# The CPU limit sits past the wall clock so that a single-threaded runaway is always stopped (and
# reported) by the wall clock the parent watches; with the two equal, which fired first was a race
# between the kernel's CPU accounting and the parent's poll. The CPU limit still stops a run that
# burns several cores at once before its wall time is up.
CPU_GRACE_S = 5


def sandbox_limits(*, wall_s: int) -> SandboxLimits:
    """The sandbox's limits from the settings, for a run of at most ``wall_s`` seconds."""
    return SandboxLimits(memory_mb=settings.IRIS_SANDBOX_MEMORY_MB, cpu_s=wall_s + CPU_GRACE_S, wall_s=wall_s)


def code_model_inspect(*, model_spec: dict) -> dict:
    """A code-bearing model's ModelInfo, inspected confined, or {"error": <a fixed message>}."""
    if not model_spec.get("weights_path"):
        return {"error": "A TorchScript model needs its archive file."}
    try:
        return inspect_confined(model_spec=model_spec, limits=sandbox_limits(wall_s=settings.IRIS_SANDBOX_INSPECT_S))
    except SandboxError as error:
        return {"error": str(error)}


def _inspect_here(model_spec: dict) -> dict:
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "iri_engine.inspect", json.dumps(model_spec)],
            capture_output=True, text=True, timeout=INSPECTION_TIMEOUT_S, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValidationError(f"Inspecting the model took longer than {INSPECTION_TIMEOUT_S} s.") from None
    try:
        answer = json.loads(completed.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        tail = (completed.stderr or completed.stdout).strip()[-500:]
        raise ValidationError(f"The model could not be inspected: {tail or 'no output'}") from None
    if completed.returncode != 0 and "error" not in answer:
        answer = {"error": "The model could not be inspected."}
    return answer


def _inspect_on_worker(model_spec: dict) -> dict:
    local_path = model_spec.get("weights_path")
    incoming = None
    if local_path:
        with open(local_path, "rb") as handle:
            incoming = default_storage.save(f"checkpoints/incoming/{uuid.uuid4().hex}{Path(local_path).suffix}",
                                            File(handle))
    try:
        result = generation_checkpoint_inspect.apply_async(args=[{**model_spec, "weights_path": None}, incoming])
        return result.get(timeout=INSPECTION_TIMEOUT_S)
    except CeleryTimeout:
        raise ValidationError(f"No GPU worker inspected the model within {INSPECTION_TIMEOUT_S} s: "
                              "is a worker on the inspect queue running?") from None
    finally:
        if incoming:
            default_storage.delete(incoming)
