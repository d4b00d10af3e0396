"""The one bridge between Django and the engine: runs a generation batch on this worker.

Only Celery workers import this module (through the task body), so only they load torch.
"""

import hashlib
import itertools
import logging
import os
import socket
import tempfile
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import torch
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage

from iri_engine import io as engine_io
from iri_engine.devices import pick_device
from iri_engine.models import LoadedModel, ModelLoadError, inspect_model, load_model, sha256_file
from iri_engine.optimize import GenerationCancelled, GenerationDiverged, generate
from iri_engine.proxies import PerceptualDistance, model_to_model, proxy_alignment
from iri_engine.sandbox import SandboxCancelled, SandboxError, is_code_bearing
from iri_engine.sandboxed import generate_confined
from iri_engine.seeds import make_seeds
from iri_engine.spec import GenerationSpec, ModelSpec, SpecError
from iri_engine.validity import NullDistribution, judge, null_distribution, verdicts
from iri_engine.version import code_version
from surveys.generation import services
from surveys.generation.inspection import code_model_inspect, sandbox_limits
from surveys.generation.models import (
    Claim,
    GenerationBatch,
    JobStatus,
    ModelStatus,
    NullDistributionCache,
    RegisteredModel,
    Stimulus,
    TargetImage,
)
from surveys.generation.tasks import INSPECT_SOFT_TIME_LIMIT_S

logger = logging.getLogger(__name__)

# Loaded networks stay in memory between batches of the same job; a worker seldom needs more.
MODEL_CACHE_SIZE = 2
# The database is told about progress at most this often.
PROGRESS_INTERVAL_S = 0.5
# ...and at least this often while the loop runs, whatever the number of steps: it beats the
# batch's heartbeat (well inside IRIS_BATCH_LEASE_S) and is when a cancel is seen.
PROGRESS_EVERY_S = 2.0
_loaded_models: "OrderedDict[tuple[int, str], LoadedModel]" = OrderedDict()


def batch_run(*, batch_id: int) -> Claim:
    """Claim the batch, generate its IRIs, store them, and record how it ended.

    Answers the claim: HELD means another worker's lease is still fresh and the caller should
    try again once it could have expired.
    """
    # Unique per run, not per process: a redelivered copy in this same process is another claimant.
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    claim = services.batch_claim(batch_id=batch_id, worker=worker)
    if claim is not Claim.CLAIMED:
        logger.info("Batch %s is %s; not running it now", batch_id, claim.value)
        return claim
    batch = GenerationBatch.objects.select_related("job__model").get(pk=batch_id)
    try:
        _batch_generate(batch, worker=worker)
    except GenerationCancelled:
        services.batch_finish(batch_id=batch_id, status=JobStatus.CANCELLED, worker=worker)
    except GenerationDiverged as error:
        services.batch_finish(batch_id=batch_id, status=JobStatus.FAILED, worker=worker,
                              error=f"The optimisation diverged: {error}. Nothing was stored.")
    except Exception as error:
        logger.exception("Batch %s failed", batch_id)
        services.batch_finish(batch_id=batch_id, status=JobStatus.FAILED, worker=worker,
                              error=f"{type(error).__name__}: {error}")
    else:
        services.batch_finish(batch_id=batch_id, status=JobStatus.DONE, worker=worker)
    return claim


def _beat(batch: GenerationBatch, *, worker: str) -> None:
    """Between the phases outside the loop: keep the lease, and stop if cancelled or no longer ours."""
    if not services.batch_progress(batch_id=batch.pk, worker=worker):
        raise GenerationCancelled(f"batch {batch.pk} was cancelled or claimed by another worker")


def _batch_generate(batch: GenerationBatch, *, worker: str) -> None:
    job = batch.job
    spec = job.spec
    device = pick_device(settings.IRIS_DEVICE)
    stored = set(Stimulus.objects.filter(job=job, layer=batch.layer).values_list("target_id", flat=True))
    targets = [t for t in TargetImage.objects.filter(pk__in=batch.target_ids).order_by("pk") if t.pk not in stored]
    if not targets:
        return
    size = job.model.input_size
    images = torch.stack([_target_tensor(t, size=size) for t in targets])
    seeds = torch.cat([_seed_for(spec, target_id=t.pk, size=size) for t in targets])
    # A code-bearing model (TorchScript) is code: it runs only in the sandbox, never in this process,
    # so the path is chosen before any model is loaded.
    generate_batch = _generate_confined if is_code_bearing(job.model.architecture) else _generate_here
    results, judged, checkpoint_sha256 = generate_batch(batch, images, seeds, device=device, worker=worker)
    iris = torch.stack([result.iris[row] for result, row in results])
    used_seeds = torch.stack([result.seeds[row] for result, row in results])
    proxy = _proxy_rows(job, iris=iris, targets=images, seeds=used_seeds, device=device)
    recognition = _recognition_rows(job, iris=iris, targets=images, device=device)
    _beat(batch, worker=worker)
    for index, target in enumerate(targets):
        result, row = results[index]
        services.stimulus_store(
            batch=batch, target=target,
            target_png=engine_io.to_png(images[index]),
            seed_png=engine_io.to_png(used_seeds[index]),
            iri_png=engine_io.to_png(iris[index]),
            metrics={
                "final_rep_loss": float(result.final_rep_loss[row]),
                "loss_curve": [step[row] for step in result.loss_curve],
                **judged[index],
                "proxy": proxy[index],
                "recognition": recognition[index],
                "wall_seconds": result.wall_seconds,
                "optimizer": result.optimizer,
                "config": job.config,
                "code_version": code_version(),
                "checkpoint_sha256": checkpoint_sha256,
            },
        )


def _generate_here(batch: GenerationBatch, images, seeds, *, device, worker: str) -> tuple[list, list[dict], str]:
    """(result, row) per target, their judgements (stimulus_verdicts) and the checkpoint's SHA-256,
    generated in this process (weights-only models)."""
    job = batch.job
    loaded = _loaded_model(job.model, device=device)
    _beat(batch, worker=worker)  # loading a network can take seconds
    perceptual = _distance(job.perceptual, device=device) if job.perceptual else None
    _beat(batch, worker=worker)
    results = _generate_halving_on_oom(loaded, images, seeds, job.spec, batch=batch, device=device,
                                       perceptual=perceptual, worker=worker)
    iris = torch.stack([result.iris[row] for result, row in results])
    judged = stimulus_verdicts(job, layer=batch.layer, loaded=loaded, targets=images, iris=iris)
    return results, judged, loaded.checkpoint_sha256 or ""


def _generate_confined(batch: GenerationBatch, images, seeds, *, device, worker: str) -> tuple[list, list[dict], str]:
    """The same for a code-bearing model, in the sandbox (iri_engine.sandbox): it gets the checkpoint,
    targets, seeds and (unless cached) the null's natural images, and hands back IRIs, their measures
    and the null, which are judged and cached here as for any model. The poll beats the batch by time
    and stops the child once the batch is cancelled or no longer ours. It runs on the CPU whatever
    ``device`` this worker has: the sandbox opens no device files."""
    job = batch.job
    weights_path = _local_checkpoint(job.model)
    _beat(batch, worker=worker)  # fetching a checkpoint from storage can take seconds
    cached = _cached_null(job, layer=batch.layer)
    naturals = None if cached else _null_inputs(job)
    report = _progress_reporter(batch_id=batch.pk, worker=worker, chunks=1)
    try:
        result, measured, computed = generate_confined(
            model_spec=services.model_spec_of(job.model, weights_path=weights_path),
            spec=job.spec, layer=batch.layer, images=images, seeds=seeds,
            naturals=naturals[0] if naturals else None, labels=naturals[1] if naturals else None,
            null=cached.to_dict() if cached else None, device="cpu",
            generator_seed=job.spec.random_seed + 7919 * batch.index,
            limits=sandbox_limits(wall_s=settings.IRIS_SANDBOX_BATCH_S), progress=lambda p: report(0, p))
    except SandboxCancelled:
        raise GenerationCancelled(f"batch {batch.pk} was cancelled or claimed by another worker") from None
    except SandboxError as error:
        if error.category == "diverged":
            raise GenerationDiverged("the loss became NaN or infinite in the sandbox") from None
        raise
    null = cached or (NullDistribution.from_dict(computed) if computed else None)
    if computed:
        _null_cache(job, layer=batch.layer, null=null)
    judged = _stimulus_fields([{**row, "verdict": judge(row, criterion=job.spec.criterion, null=null)}
                               for row in measured])
    return [(result, row) for row in range(len(result.iris))], judged, sha256_file(weights_path)


def _recognition_rows(job, *, iris, targets, device) -> list[dict]:
    """Per IRI, whether each recognizer classifies it as it classifies the target (no labels needed)."""
    rows = [{} for _ in range(len(iris))]
    for model in RegisteredModel.objects.filter(pk__in=job.recognizers).order_by("pk"):
        other = _loaded_model(model, device=device)
        # The recognizer's own reading of each target is the label its reading of the IRI must match.
        target_classes = model_to_model(other, targets, [0] * len(targets))["predicted"]
        result = model_to_model(other, iris, target_classes)
        for row, target_class, iri_class, agrees in zip(rows, target_classes, result["predicted"], result["correct"],
                                                         strict=True):
            row[model.name] = {"target_class": target_class, "iri_class": iri_class, "agrees": agrees}
    return rows


def _target_tensor(target: TargetImage, *, size: int) -> torch.Tensor:
    return engine_io.load_target(_read(target.image.name), size=size)


# Validity's null compares this many natural images at most (all pairs of 64 = 2016 pairs).
NULL_MAX_IMAGES = 64


def stimulus_verdicts(job, *, layer: str, loaded: LoadedModel, targets, iris) -> list[dict]:
    """Per IRI, the Stimulus fields of its judgement: "validity" (the measures), "verdict" (the
    engine's judge against the job's criterion and null) and "passes" (the verdict's answer)."""
    null = _null_for(job, layer=layer, loaded=loaded)
    return _stimulus_fields(verdicts(loaded, layer, targets, iris, criterion=job.spec.criterion, null=null))


def _stimulus_fields(rows: list[dict]) -> list[dict]:
    """Measure rows with their "verdict" (iri_engine.validity.verdicts) as Stimulus fields."""
    return [{"validity": {key: value for key, value in row.items() if key != "verdict"},
             "verdict": row["verdict"], "passes": row["verdict"]["passes"]} for row in rows]


def _null_for(job, *, layer: str, loaded: LoadedModel) -> NullDistribution | None:
    """The null of the job's criterion, computed once per model, layer, set of natural images and
    kind: pairs of the job's targets, or of its reference set (docs/engine/option-criterion.md)."""
    cached = _cached_null(job, layer=layer)
    if cached:
        return cached
    naturals = _null_inputs(job)
    if naturals is None:
        return None  # the verdict then says there was no null to test validity against
    images, labels = naturals
    null = null_distribution(loaded, layer, images, generator=torch.Generator().manual_seed(0),
                             kind=job.spec.criterion.null, labels=labels)
    _null_cache(job, layer=layer, null=null)
    return null


def _naturals_set(job):
    """The set whose natural images make the job's null: its reference set, or its targets."""
    return job.null_reference if job.spec.criterion.null == "reference" else job.target_set


def _cached_null(job, *, layer: str) -> NullDistribution | None:
    cached = NullDistributionCache.objects.filter(model=job.model, layer=layer, target_set=_naturals_set(job),
                                                  kind=job.spec.criterion.null).first()
    return NullDistribution.from_dict(cached.data) if cached else None


def _null_cache(job, *, layer: str, null: NullDistribution) -> None:
    NullDistributionCache.objects.get_or_create(model=job.model, layer=layer, target_set=_naturals_set(job),
                                                kind=job.spec.criterion.null, defaults={"data": null.to_dict()})


def _null_inputs(job) -> tuple[torch.Tensor, list | None] | None:
    """(N, 3, H, W) natural images for the job's null and their pairing labels (None for the
    "targets" kind); None when they make no pair."""
    kind = job.spec.criterion.null
    naturals = _null_naturals(_naturals_set(job), kind=kind)
    labels = [t.category or None for t in naturals] if kind != "targets" else None
    if len(naturals) < 2 or (labels is not None and not _has_pair(labels)):
        return None
    return torch.stack([_target_tensor(t, size=job.model.input_size) for t in naturals]), labels


def _null_naturals(target_set, *, kind: str) -> list[TargetImage]:
    """At most NULL_MAX_IMAGES natural images; taken in turn from each category for the kinds that
    pair across categories, so that a set sorted by category still gives different-category pairs."""
    images = list(target_set.images.order_by("pk"))
    if kind == "targets":
        return images[:NULL_MAX_IMAGES]
    by_category: dict[str, list[TargetImage]] = {}
    for image in images:
        by_category.setdefault(image.category or f"unlabelled-{image.pk}", []).append(image)
    in_turn = [image for group in itertools.zip_longest(*by_category.values()) for image in group if image]
    return in_turn[:NULL_MAX_IMAGES]


def _has_pair(labels: list) -> bool:
    return None in labels or len(set(labels)) >= 2


def _distance(config: dict, *, device: torch.device) -> PerceptualDistance:
    model = RegisteredModel.objects.get(pk=config["model"])
    loaded = _loaded_model(model, device=device)
    return PerceptualDistance(loaded, config["layers"], name=f"{model.name}:{'+'.join(config['layers'])}")


def _proxy_rows(job, *, iris, targets, seeds, device) -> list[dict]:
    """Per IRI, {distance name: {"d_target", "d_seed", "aligned"}} under each of the job's proxies."""
    if not job.proxies:
        return [{} for _ in range(len(iris))]
    distances = [_distance(config, device=device) for config in job.proxies]
    adversarial = job.spec.loss in services.ADVERSARIAL_PRESETS and job.perceptual
    excluded = _distance(job.perceptual, device=device).name if adversarial else None
    per_distance = proxy_alignment(iris, targets, seeds, distances, exclude=excluded)["per_distance"]
    return [{name: {"d_target": entry["d_target"][i], "d_seed": entry["d_seed"][i], "aligned": entry["aligned"][i]}
             for name, entry in per_distance.items()} for i in range(len(iris))]


def _seed_for(spec: GenerationSpec, *, target_id: int, size: int) -> torch.Tensor:
    """The starting point of one target: shared across the whole run, or its own, both reproducible."""
    salt = 0 if spec.seed_shared else target_id
    generator = torch.Generator().manual_seed(spec.random_seed * 1_000_003 + salt)
    return make_seeds(spec.seed_type, shape=(1, 3, size, size), shared=True, generator=generator)


def _generate_halving_on_oom(loaded, images, seeds, spec, *, batch, device, perceptual, worker: str) -> list:
    """Generate in chunks; a CUDA out-of-memory halves the chunk and tries again."""
    chunk = len(images)
    while True:
        try:
            return _generate_chunks(loaded, images, seeds, spec, batch=batch, device=device, chunk=chunk,
                                    perceptual=perceptual, worker=worker)
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            chunk //= 2
            torch.cuda.empty_cache()
            logger.warning("Out of GPU memory in batch %s; retrying %s images at a time", batch.pk, chunk)


def _generate_chunks(loaded, images, seeds, spec, *, batch, device, chunk: int, perceptual, worker: str) -> list:
    report = _progress_reporter(batch_id=batch.pk, worker=worker, chunks=(len(images) + chunk - 1) // chunk)
    rows = []
    for number, start in enumerate(range(0, len(images), chunk)):
        generator = torch.Generator(device=device).manual_seed(spec.random_seed + 7919 * batch.index + number)
        result = generate(loaded, images[start:start + chunk], spec, layer=batch.layer, device=device,
                          generator=generator, seeds=seeds[start:start + chunk], perceptual=perceptual,
                          progress=lambda p, number=number: report(number, p), progress_every_s=PROGRESS_EVERY_S)
        rows.extend((result, row) for row in range(len(result.iris)))
    return rows


def _progress_reporter(*, batch_id: int, worker: str, chunks: int):
    last = {"at": 0.0}

    def report(chunk_number: int, progress) -> bool:
        now = time.monotonic()
        if now - last["at"] < PROGRESS_INTERVAL_S and (progress is None or progress.step < progress.total):
            return True
        last["at"] = now
        if progress is None:  # a confined child that has not reported yet: a beat only
            return services.batch_progress(batch_id=batch_id, worker=worker)
        steps = (chunk_number * progress.total + progress.step) // chunks
        return services.batch_progress(batch_id=batch_id, worker=worker, steps_done=steps, loss=progress.loss)

    return report


def _loaded_model(model: RegisteredModel, *, device: torch.device) -> LoadedModel:
    key = (model.pk, model.checkpoint_sha256)
    if key in _loaded_models:
        _loaded_models.move_to_end(key)
        return _loaded_models[key]
    weights_path = _local_checkpoint(model) if model.weights else None
    spec = ModelSpec.from_dict(services.model_spec_of(model, weights_path=weights_path))
    loaded = load_model(spec, device=device)
    _loaded_models[key] = loaded
    while len(_loaded_models) > MODEL_CACHE_SIZE:
        _loaded_models.popitem(last=False)
    return loaded


def model_inspect(*, model_id: int) -> None:
    """Inspect the checkpoint of a model registered as inspecting and record the answer: ready with its
    layers, or refused with the inspection's message (services.model_inspection_record). A model that
    is no longer inspecting (a redelivered task) or was deleted meanwhile is left alone."""
    model = RegisteredModel.objects.filter(pk=model_id, status=ModelStatus.INSPECTING).first()
    if model is None:
        return
    try:
        answer = checkpoint_inspect_stored(model_spec=services.model_spec_of(model, weights_path=None),
                                           weights_name=model.weights.name or None)
    except SoftTimeLimitExceeded:
        answer = {"error": f"Inspecting the model took longer than {INSPECT_SOFT_TIME_LIMIT_S} s."}
    except Exception:  # the model must not stay inspecting for ever; what failed goes to the log only
        logger.exception("Inspecting model %s failed", model_id)
        answer = {"error": "The model could not be inspected: the inspecting worker failed (its log says why)."}
    services.model_inspection_record(model_id=model_id, info=answer)


def checkpoint_inspect_stored(*, model_spec: dict, weights_name: str | None) -> dict:
    """The engine's ModelInfo of a checkpoint in storage, or {"error": message}."""
    with tempfile.TemporaryDirectory() as scratch:
        weights_path = None
        if weights_name:
            weights_path = str(Path(scratch) / Path(weights_name).name)
            Path(weights_path).write_bytes(_read(weights_name))
        if is_code_bearing(model_spec["architecture"]):
            return code_model_inspect(model_spec={**model_spec, "weights_path": weights_path})
        try:
            spec = ModelSpec.from_dict({**model_spec, "weights_path": weights_path})
            return inspect_model(spec).to_dict()
        except (ModelLoadError, SpecError) as error:
            return {"error": str(error)}


def _local_checkpoint(model: RegisteredModel) -> str:
    """A local path to the checkpoint: the file itself on local storage, else a verified cached copy."""
    try:
        return default_storage.path(model.weights.name)
    except NotImplementedError:  # remote storage (S3): keep a copy keyed by its hash
        pass
    cache = settings.IRIS_CHECKPOINT_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    local = cache / f"{model.checkpoint_sha256}{Path(model.weights.name).suffix}"
    if not local.exists():
        data = _read(model.weights.name)
        if hashlib.sha256(data).hexdigest() != model.checkpoint_sha256:
            raise ValueError(f"The stored checkpoint of {model.name} does not match its registered SHA-256.")
        # Written under a name of its own, then renamed: GPU workers share this cache (a volume).
        partial = local.with_name(f"{local.name}.{uuid.uuid4().hex}.partial")
        partial.write_bytes(data)
        partial.replace(local)
    return str(local)


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()
