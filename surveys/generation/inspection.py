"""Checking a checkpoint at registration without loading torch into the web process.

Where the engine is installed beside the web app (the embedded default), its inspector runs in a
subprocess (``python -m iri_engine.inspect``) while the request waits. Where it is not (the torch-free
web image of a deployment, ``IRIS_INSPECT_ON_WORKER``), registration saves the model as inspecting and
an engine worker inspects the stored file after the request (the ``generation.model_inspect`` task on
the ``inspect`` queue: runner.model_inspect). Either way the checkpoint is loaded safely, its layer
names are listed and its SHA-256 taken, and a broken file, a pickled model or a mismatched state_dict
is reported to the researcher, not as a crash in a worker later. A code-bearing model (TorchScript) is
inspected in the engine's sandbox instead (``iri_engine.sandbox``), whose refusals are fixed messages
that never carry what the model wrote.
"""

import json
import subprocess
import sys

from django.conf import settings
from django.core.exceptions import ValidationError

from iri_engine.sandbox import SandboxError, SandboxLimits, inspect_confined, is_code_bearing

INSPECTION_TIMEOUT_S = 180


def checkpoint_inspect(*, model_spec: dict) -> dict:
    """Return the engine's ModelInfo as a dict, inspected in this process's subprocess or sandbox, or
    raise ValidationError with the engine's message."""
    if is_code_bearing(model_spec["architecture"]):
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
