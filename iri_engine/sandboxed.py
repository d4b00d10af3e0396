"""What a code-bearing model does inside the sandbox, and the worker's side of a confined batch.

Inside (``TASKS``, run by ``iri_engine.sandbox_child`` after confinement): ``inspect`` loads the
archive and probes it as registration needs; ``generate`` makes one batch's IRIs and measures
them (``validity.measure``, and the null of the job's criterion when the worker has none cached):
measuring runs the model, so it happens here; judging the measures against the criterion needs no
model and happens in the worker, as for any model. Tensors cross the boundary as safetensors files in scratch (a format that holds
numbers only), everything else as JSON; the worker checks every field it gets back.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from iri_engine.models import LoadedModel, load_model
from iri_engine.optimize import GenerationDiverged, GenerationResult, Progress, generate
from iri_engine.sandbox import MODEL_FILE, PROGRESS_FILE, SandboxError, SandboxLimits, sandbox_run, sandbox_scratch
from iri_engine.spec import GenerationSpec, ModelSpec
from iri_engine.validity import NullDistribution, measure, null_distribution

INPUTS_FILE = "inputs.safetensors"
OUTPUTS_FILE = "outputs.safetensors"
# The child refreshes its progress file at least this often, whatever the number of steps.
PROGRESS_EVERY_S = 1.0


class TaskFailure(Exception):
    """A confined task failed; ``category`` is a key of iri_engine.sandbox.FAILURES."""

    def __init__(self, category: str):
        super().__init__(category)
        self.category = category


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(error)


@contextmanager
def _failing_as(category: str) -> Iterator[None]:
    """Any exception becomes ``category`` (or memory_limit); its text stays here."""
    try:
        yield
    except TaskFailure:
        raise
    except BaseException as error:  # noqa: BLE001 - a model's code can raise anything
        raise TaskFailure("memory_limit" if _out_of_memory(error) else category) from None


def _load(request: dict, scratch: str, device: torch.device) -> LoadedModel:
    spec = ModelSpec.from_dict({**request["model"], "weights_path": str(Path(scratch, request["model"]["weights_path"]))})
    with _failing_as("load_failed"):
        network = torch.jit.load(spec.weights_path, map_location="cpu")
    del network  # loading alone may fail apart from running: say which
    with _failing_as("run_failed"):
        return load_model(spec, device=device, allow_code=True)


def inspect_task(request: dict, scratch: str) -> dict:
    loaded = _load(request, scratch, torch.device("cpu"))
    with _failing_as("run_failed"):
        return {"layer_names": loaded.layer_names(), "module_names": loaded.module_names(),
                "is_classifier": loaded.is_classifier, "num_outputs": loaded.num_outputs}


def generate_task(request: dict, scratch: str) -> dict:
    device = torch.device(request["device"])
    loaded = _load(request, scratch, device)
    inputs = load_file(str(Path(scratch, INPUTS_FILE)))
    spec = GenerationSpec.from_dict(request["spec"])
    layer = request["layer"]
    with _failing_as("run_failed"):
        generator = torch.Generator(device=device).manual_seed(int(request["generator_seed"]))
        try:
            result = generate(loaded, inputs["images"], spec, layer=layer, device=device, generator=generator,
                              seeds=inputs["seeds"], progress=_progress_writer(scratch),
                              progress_every_s=PROGRESS_EVERY_S)
        except GenerationDiverged:
            raise TaskFailure("diverged") from None
        null, computed = _null(request, inputs, loaded, layer, kind=spec.criterion.null)
        validity = measure(loaded, layer, inputs["images"], result.iris, null)
    save_file({"iris": result.iris.contiguous(), "seeds": result.seeds.contiguous(),
               "final_rep_loss": result.final_rep_loss.contiguous()}, str(Path(scratch, OUTPUTS_FILE)))
    return {"loss_curve": result.loss_curve, "optimizer": result.optimizer, "wall_seconds": result.wall_seconds,
            "validity": validity, "null": computed.to_dict() if computed else None}


def _null(request: dict, inputs: dict, loaded: LoadedModel, layer: str, *, kind: str):
    """(the null to measure with, the one computed here for the worker to cache, or None); ``kind``
    and the request's ``labels`` pair the naturals as the worker's own null would."""
    if request.get("null"):
        return NullDistribution.from_dict(request["null"]), None
    if "naturals" not in inputs:
        return None, None
    null = null_distribution(loaded, layer, inputs["naturals"], generator=torch.Generator().manual_seed(0),
                             kind=kind, labels=request.get("labels"))
    return null, null


def _progress_writer(scratch: str) -> Callable[[Progress], bool]:
    def write(progress: Progress) -> bool:
        partial = Path(scratch, f"{PROGRESS_FILE}.partial")
        partial.write_text(json.dumps({"step": progress.step, "total": progress.total, "loss": progress.loss}))
        os.replace(partial, Path(scratch, PROGRESS_FILE))
        return True

    return write


TASKS = {"inspect": inspect_task, "generate": generate_task}


# --- the worker's side ---------------------------------------------------------------------------

def generate_confined(*, model_spec: dict, spec: GenerationSpec, layer: str, images: torch.Tensor,
                      seeds: torch.Tensor, naturals: torch.Tensor | None, labels: list | None, null: dict | None,
                      device: str, generator_seed: int, limits: SandboxLimits,
                      progress: Callable[[Progress | None], bool]) -> tuple[GenerationResult, list[dict], dict | None]:
    """One batch of a code-bearing model, generated and measured confined.

    images, seeds: (B, 3, H, W) in [0, 1]; naturals: (N, 3, H, W) for the null of
    ``spec.criterion.null`` (paired across ``labels``, as ``validity.null_distribution`` takes them)
    when ``null`` (a NullDistribution dict) is not known yet. ``progress`` is called about every
    ``sandbox.POLL_INTERVAL_S`` with the child's latest progress (None before its first) and may
    answer False to cancel (SandboxCancelled). Returns the result, one ``validity.measure`` row per
    IRI and the null computed in the child (or None). Raises SandboxError with a fixed message
    (category "diverged" when the loss became NaN or infinite). ``device``: "cpu" (the sandbox
    opens no device files).
    """
    with sandbox_scratch() as scratch:
        weights = Path(model_spec["weights_path"])
        shutil.copyfile(weights, Path(scratch, MODEL_FILE))
        tensors = {"images": images.contiguous(), "seeds": seeds.contiguous()}
        if naturals is not None and null is None:
            tensors["naturals"] = naturals.clone()  # its own storage: safetensors refuses shared ones
        save_file(tensors, str(Path(scratch, INPUTS_FILE)))
        request = {"model": {**model_spec, "weights_path": MODEL_FILE}, "spec": spec.to_dict(), "layer": layer,
                   "device": device, "generator_seed": generator_seed, "null": null, "labels": labels}
        answer = sandbox_run(task="generate", request=request, scratch=scratch, limits=limits,
                             poll=lambda: _relay_progress(scratch, progress))
        return _checked_result(answer, scratch, images=images, layer=layer, kind=spec.criterion.null, limits=limits)


def _relay_progress(scratch: str, progress: Callable[[Progress | None], bool]) -> bool:
    try:
        data = json.loads(Path(scratch, PROGRESS_FILE).read_text())
        step, total, loss = int(data["step"]), int(data["total"]), float(data["loss"])
    except (OSError, ValueError, KeyError, TypeError):
        # Nothing (readable) yet: the caller still hears from us, so it can beat and cancel by time.
        return progress(None) is not False
    return progress(Progress(step=step, total=total, loss=loss)) is not False


def _checked_result(answer: dict, scratch: str, *, images: torch.Tensor, layer: str, kind: str,
                    limits: SandboxLimits) -> tuple[GenerationResult, list[dict], dict | None]:
    batch = len(images)
    try:
        outputs = load_file(str(Path(scratch, OUTPUTS_FILE)))
        iris, seeds, final = outputs["iris"].float(), outputs["seeds"].float(), outputs["final_rep_loss"].float()
        curve = [[float(value) for value in step] for step in answer["loss_curve"]]
        validity = [_measure_row(entry) for entry in answer["validity"]]
        null = _checked_null(answer["null"], layer=layer, kind=kind)
        well_formed = (iris.shape == images.shape and seeds.shape == images.shape and final.shape == (batch,)
                       and bool(torch.isfinite(iris).all()) and float(iris.min()) >= 0 and float(iris.max()) <= 1
                       and all(len(step) == batch for step in curve) and len(validity) == batch)
        result = GenerationResult(iris=iris, seeds=seeds, final_rep_loss=final, loss_curve=curve,
                                  optimizer=str(answer["optimizer"])[:40], wall_seconds=float(answer["wall_seconds"]),
                                  layer=layer)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise SandboxError("bad_answer", limits) from None
    if not well_formed:
        raise SandboxError("bad_answer", limits)
    return result, validity, null


# The keys of a validity.measure row, which the worker's judge reads.
MEASURE_KEYS = frozenset({"spearman", "pearson", "db_snr", "rep_loss", "passes", "target_class", "iri_class",
                          "class_agrees"})


def _measure_row(entry: dict) -> dict:
    """A validity.measure row: exactly its keys, each a finite number, a bool or None; ValueError otherwise."""
    if not isinstance(entry, dict) or set(entry) != MEASURE_KEYS:
        raise ValueError("validity")
    for value in entry.values():
        if not (value is None or isinstance(value, (bool, int, float))):
            raise ValueError("validity")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("validity")  # jsonb holds no NaN or infinity
    return dict(entry)


def _checked_null(data: dict | None, *, layer: str, kind: str) -> dict | None:
    """The child's null as a dict, if it computed one: of the layer and kind asked, finite; ValueError otherwise."""
    if not data:
        return None
    null = NullDistribution.from_dict(data)
    if null.layer != layer or null.kind != kind or not all(
            math.isfinite(value) for value in (null.spearman, null.pearson, null.db_snr)):
        raise ValueError("null")
    return null.to_dict()
