"""Writes for the generation app (docs/conventions.md §4): registration, uploads, jobs, batches, IRIs."""

import contextlib
import difflib
import logging
import math
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from iri_engine.sandbox import is_code_bearing
from iri_engine.spec import GenerationSpec, SpecError
from surveys.generation import images as image_checks
from surveys.generation.inspection import checkpoint_inspect
from surveys.generation.models import (
    Claim,
    GenerationBatch,
    GenerationJob,
    JobStatus,
    ModelStatus,
    RegisteredModel,
    Stimulus,
    TargetImage,
    TargetSet,
    opaque_png_name,
)
from surveys.generation.notifications import job_notify
from surveys.generation.tasks import generation_batch_run, generation_model_inspect

logger = logging.getLogger(__name__)

MODEL_SPEC_FIELDS = ("architecture", "input_size", "mean", "std", "num_classes", "init_seed")
CODE_MODEL_PERMISSION = "generation.register_code_model"
CODE_MODEL_REFUSED = (
    "A TorchScript model is code: registering one needs the permission 'Can register code-bearing models "
    "(TorchScript)', which your account does not have. Upload the weights as a state_dict (.pt) or "
    ".safetensors with a named architecture instead, or ask an administrator."
)


def model_spec_of(model: RegisteredModel, *, weights_path: str | None) -> dict:
    """The engine's ModelSpec (iri_engine.spec) for a registered model, as JSON."""
    spec = {field: getattr(model, field) for field in MODEL_SPEC_FIELDS}
    spec["weights_path"] = weights_path
    return spec


def _check_normalisation(*, mean: Sequence[float], std: Sequence[float]) -> None:
    if len(mean) != 3 or len(std) != 3:
        raise ValidationError("mean and std need three values each (R, G, B).")
    if any(not float(s) > 0 for s in std):
        raise ValidationError("Every std value must be positive.")


def model_register(
    *,
    owner,
    name: str,
    architecture: str,
    weights: UploadedFile | None,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    num_classes: int | None = None,
    init_seed: int = 0,
) -> RegisteredModel:
    """Register a model; bad input saves nothing.

    Where the web process has the engine, the checkpoint is inspected here in a subprocess and the
    model saved ready. With IRIS_INSPECT_ON_WORKER it is saved inspecting, and a worker of the
    inspect queue inspects it after the commit (model_inspection_record): a request never waits for
    a worker. A refused model of the same name is replaced. A code-bearing architecture (TorchScript)
    needs CODE_MODEL_PERMISSION and is inspected in the sandbox (surveys/generation/inspection.py)."""
    if is_code_bearing(architecture) and not owner.has_perm(CODE_MODEL_PERMISSION):
        raise ValidationError(CODE_MODEL_REFUSED)
    _check_normalisation(mean=mean, std=std)
    if RegisteredModel.objects.filter(owner=owner, name=name).exclude(status=ModelStatus.REFUSED).exists():
        raise ValidationError(f"You already have a model named {name!r}.")
    model = RegisteredModel(owner=owner, name=name, architecture=architecture.strip(), input_size=input_size,
                            mean=[float(m) for m in mean], std=[float(s) for s in std],
                            num_classes=num_classes, init_seed=init_seed)
    if settings.IRIS_INSPECT_ON_WORKER:
        return _model_save_for_a_worker(model, weights=weights)
    with tempfile.TemporaryDirectory() as scratch:
        weights_path = None
        if weights is not None:
            weights_path = Path(scratch) / Path(weights.name).name
            with open(weights_path, "wb") as out:
                for chunk in weights.chunks():
                    out.write(chunk)
        info = checkpoint_inspect(model_spec=model_spec_of(model, weights_path=weights_path and str(weights_path)))
        for field, value in _inspected_fields(info).items():
            setattr(model, field, value)
        with files_removed_on_error() as stored, transaction.atomic():
            if weights_path is not None:
                with open(weights_path, "rb") as weights_file:
                    model.weights.save(f"{model.checkpoint_sha256[:16]}{weights_path.suffix}", File(weights_file),
                                       save=False)
                stored.append(model.weights)
            _refused_namesake_delete(model)
            model.save()
    return model


def _model_save_for_a_worker(model: RegisteredModel, *, weights: UploadedFile | None) -> RegisteredModel:
    """Store the checkpoint as it came (its hash is not known yet, so a random name keeping its suffix,
    which tells the engine the format) and save the model inspecting; its inspection is enqueued once
    the row is committed."""
    model.status = ModelStatus.INSPECTING
    with files_removed_on_error() as stored, transaction.atomic():
        if weights is not None:
            model.weights.save(f"{uuid.uuid4().hex[:16]}{Path(weights.name).suffix}", weights, save=False)
            stored.append(model.weights)
        _refused_namesake_delete(model)
        model.save()
        transaction.on_commit(lambda: generation_model_inspect.apply_async(args=[model.pk]))
    return model


def _refused_namesake_delete(model: RegisteredModel) -> None:
    # A refused model has no file and was never used: registering its name again replaces it.
    RegisteredModel.objects.filter(owner=model.owner, name=model.name, status=ModelStatus.REFUSED).delete()


def _inspected_fields(info: dict) -> dict:
    """The model's fields from the engine's ModelInfo (as a dict)."""
    # Blocks first ("layer3": the output of its last node), then every graph node.
    return {"layer_names": list(dict.fromkeys([*info.get("module_names", []), *info["layer_names"]])),
            "checkpoint_sha256": info.get("checkpoint_sha256") or "", "is_classifier": bool(info.get("is_classifier")),
            "num_outputs": info.get("num_outputs")}


def model_inspection_record(*, model_id: int, info: dict) -> bool:
    """Record a worker's inspection of a model saved inspecting: ready with what the engine found, or,
    when ``info`` is {"error": message}, refused with that message and its checkpoint file deleted (the
    row stays, so the researcher reads why). A conditional UPDATE: a second answer for the same model
    (a redelivered task) changes nothing, and the answer says whether this one was recorded."""
    pending = RegisteredModel.objects.filter(pk=model_id, status=ModelStatus.INSPECTING)
    if "error" not in info:
        return bool(pending.update(status=ModelStatus.READY, **_inspected_fields(info)))
    weights = pending.values_list("weights", flat=True).first()
    with transaction.atomic():
        refused = pending.update(status=ModelStatus.REFUSED, error=str(info["error"]), weights="")
        if refused and weights:
            transaction.on_commit(lambda: default_storage.delete(weights))
    return bool(refused)


def model_ready_check(*, model: RegisteredModel, role: str | None = None) -> None:
    """Refuse a model that cannot be used yet (still inspecting) or at all (refused at registration);
    ``role`` (e.g. "Recognizer") starts the message."""
    prefix = f"{role}: " if role else ""
    if model.status == ModelStatus.INSPECTING:
        raise ValidationError(f"{prefix}{model.name} is still being inspected: it can be used once its status "
                              "is ready.")
    if model.status == ModelStatus.REFUSED:
        raise ValidationError(f"{prefix}{model.name} was refused at registration ({model.error}): "
                              "register a checkpoint that loads instead.")


def target_set_create(*, owner, name: str, uploads: Sequence[tuple[str, bytes | BinaryIO]]) -> TargetSet:
    """Create a target set from uploaded images or zips, each (file name, bytes or a binary file);
    one bad file rejects the whole upload and nothing is stored."""
    if TargetSet.objects.filter(owner=owner, name=name).exists():
        raise ValidationError(f"You already have a target set named {name!r}.")
    checked = image_checks.images_from_uploads(uploads=uploads)
    try:
        if not checked:
            raise ValidationError("Upload at least one image.")
        names = [image.name for image in checked]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationError(f"Two uploads share the name {duplicates[0]!r}.")
        with files_removed_on_error() as stored, transaction.atomic():
            target_set = TargetSet.objects.create(owner=owner, name=name)
            for image in checked:
                target = TargetImage(target_set=target_set, name=image.name, sha256=image.sha256,
                                     category=image_checks.category_of(image.name))
                suffix = Path(image.name).suffix.lower()
                target.image.save(f"{image.sha256[:20]}{suffix}", File(image.file), save=False)
                stored.append(target.image)
                target.save()
    finally:
        image_checks.images_close(images=checked)
    return target_set


def target_set_delete(*, target_set: TargetSet) -> None:
    """Delete a target set and its images' files; one a job used is refused, as its IRIs refer to it."""
    if target_set.jobs.exists():
        raise ValidationError(f"Target set {target_set.name!r} is used by a generation job; "
                              "it is kept as long as that job's IRIs are.")
    target_set.delete()  # the images' files go once the rows are gone for good (stored_files.py)


@contextlib.contextmanager
def files_removed_on_error() -> Iterator[list[FieldFile]]:
    """Files written to storage inside the block (append each to the list) are deleted again if the
    block raises: a row that is not saved leaves no file behind. Put the transaction inside it, so a
    failed commit counts too."""
    stored: list[FieldFile] = []
    try:
        yield stored
    except BaseException:
        for field in stored:
            try:
                field.delete(save=False)
            except Exception:  # the original error is the one to report
                logger.exception("Could not remove %s after a failed save", field.name)
        raise


def generation_config_check(*, config: dict, model: RegisteredModel) -> GenerationSpec:
    """Validate a generation configuration with the engine's own spec parser (torch-free)."""
    try:
        spec = GenerationSpec.from_dict(config)
    except (SpecError, TypeError, ValueError) as error:
        raise ValidationError(f"Invalid generation configuration: {error}") from None
    for layer in spec.layers:
        if layer not in model.layer_names:
            close = difflib.get_close_matches(layer, model.layer_names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValidationError(f"{model.name} has no layer named {layer!r}.{hint}")
    return spec


ADVERSARIAL_PRESETS = {"adversarial", "adversarial_seed"}


def distance_check(*, owner, distance: dict, role: str) -> dict:
    """A perceptual distance {"model": id, "layers": [...]} over one of the owner's models."""
    try:
        model_id, layers = int(distance["model"]), [str(layer) for layer in distance["layers"]]
    except (KeyError, TypeError, ValueError):
        raise ValidationError(f"{role}: write {{'model': <id>, 'layers': [<layer>, ...]}}.") from None
    model = RegisteredModel.objects.filter(pk=model_id, owner=owner).first()
    if model is None:
        raise ValidationError(f"{role}: you have no model with id {model_id}.")
    model_ready_check(model=model, role=role)
    if is_code_bearing(model.architecture):
        raise ValidationError(f"{role}: {model.name} is a TorchScript model, which runs only in its own sandbox, "
                              f"so it cannot measure other models' IRIs.")
    unknown = [layer for layer in layers if layer not in model.layer_names]
    if not layers or unknown:
        raise ValidationError(f"{role}: {model.name} has no layer named {unknown[0] if unknown else '(none given)'}.")
    return {"model": model_id, "layers": layers}


def _distances_check(*, owner, spec: GenerationSpec, perceptual: dict | None, proxies: list[dict]) -> tuple:
    perceptual = perceptual and distance_check(owner=owner, distance=perceptual, role="Perceptual distance")
    if spec.loss in ADVERSARIAL_PRESETS and not perceptual:
        raise ValidationError(f"The {spec.loss} loss needs a perceptual distance to push against.")
    proxies = [distance_check(owner=owner, distance=proxy, role="Proxy distance") for proxy in proxies]
    if perceptual and spec.loss in ADVERSARIAL_PRESETS and perceptual in proxies:
        raise ValidationError("A proxy cannot be the distance that generated adversarial IRIs: "
                              "it is fooled by construction (docs/method.md §1).")
    return perceptual, proxies


def _recognizers_check(*, owner, recognizers: Sequence[int]) -> list[int]:
    models = {m.pk: m for m in RegisteredModel.objects.filter(owner=owner, pk__in=list(recognizers))}
    for model_id in recognizers:
        if model_id not in models:
            raise ValidationError(f"Recognizer: you have no model with id {model_id}.")
        model_ready_check(model=models[model_id], role="Recognizer")
        if not models[model_id].is_classifier:
            raise ValidationError(f"Recognizer: {models[model_id].name} is not a classifier.")
        if is_code_bearing(models[model_id].architecture):
            raise ValidationError(f"Recognizer: {models[model_id].name} is a TorchScript model, which runs only in "
                                  f"its own sandbox, so it cannot read other models' IRIs.")
    return list(dict.fromkeys(recognizers))


def null_naturals_check(*, spec: GenerationSpec, target_set: TargetSet, reference: TargetSet | None) -> None:
    """The job's null (its criterion's ``null``) can be made from the natural images it names:
    a reference set exactly when the null is "reference", two images that may be paired otherwise."""
    kind = spec.criterion.null
    if (kind == "reference") != (reference is not None):
        raise ValidationError("A reference set of natural images is for the 'reference' null, and that null "
                              "needs one: choose both or neither.")
    if not spec.criterion.validity:
        return
    naturals = reference or target_set
    categories = list(naturals.images.values_list("category", flat=True))
    # Unlabelled images ("") are categories of their own (iri_engine.validity.null_distribution).
    pairable = len(categories) >= 2 and (kind == "targets" or "" in categories or len(set(categories)) >= 2)
    if not pairable:
        raise ValidationError(f"Validity's {kind} null needs two natural images of different categories in "
                              f"{naturals.name!r}; choose another null, a reference set, or turn validity off.")


def job_submit(*, owner, model: RegisteredModel, target_set: TargetSet, config: dict,
               perceptual: dict | None = None, proxies: Sequence[dict] = (),
               recognizers: Sequence[int] = (), null_reference: TargetSet | None = None) -> GenerationJob:
    """Validate, save a queued job split into batches, and enqueue the batches once committed.

    ``config["criterion"]`` (the engine's IriCriterion, its defaults filled in) decides which IRIs
    pass; ``null_reference`` is the natural images of its "reference" null.
    """
    if model.owner_id != owner.pk or target_set.owner_id != owner.pk:
        raise ValidationError("You can only use your own models and target sets.")
    if null_reference is not None and null_reference.owner_id != owner.pk:
        raise ValidationError("You can only use your own target sets as a reference set.")
    model_ready_check(model=model)
    spec = generation_config_check(config=config, model=model)
    null_naturals_check(spec=spec, target_set=target_set, reference=null_reference)
    perceptual, proxies = _distances_check(owner=owner, spec=spec, perceptual=perceptual, proxies=list(proxies))
    if perceptual and is_code_bearing(model.architecture):
        raise ValidationError("A TorchScript model runs alone in its sandbox: it cannot be generated against a "
                              "perceptual distance (the adversarial losses).")
    recognizers = _recognizers_check(owner=owner, recognizers=recognizers)
    target_ids = list(target_set.images.values_list("id", flat=True))
    if not target_ids:
        raise ValidationError(f"Target set {target_set.name!r} has no images.")
    size = settings.IRIS_BATCH_SIZE
    with transaction.atomic():
        job = GenerationJob.objects.create(owner=owner, model=model, target_set=target_set, config=spec.to_dict(),
                                           perceptual=perceptual, proxies=proxies, recognizers=recognizers,
                                           null_reference=null_reference)
        chunks = [(layer, target_ids[i:i + size]) for layer in spec.layers
                  for i in range(0, len(target_ids), size)]
        batches = GenerationBatch.objects.bulk_create(
            GenerationBatch(job=job, index=index, layer=layer, target_ids=ids,
                            steps_total=spec.iterations)
            for index, (layer, ids) in enumerate(chunks)
        )
        batch_ids = [batch.pk for batch in batches]
        transaction.on_commit(lambda: _enqueue_batches(batch_ids))
    return job


def _enqueue_batches(batch_ids: list[int]) -> None:
    for batch_id in batch_ids:
        generation_batch_run.apply_async(args=[batch_id])


def job_cancel(*, job: GenerationJob) -> None:
    """Ask running batches to stop at their next progress report; queued ones never start."""
    with transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
            cancel_requested=True)
        job.batches.filter(status=JobStatus.QUEUED).update(status=JobStatus.CANCELLED)
    job_refresh(job_id=job.pk)


def batch_claim(*, batch_id: int, worker: str) -> Claim:
    """Claim a batch with a conditional UPDATE, so that each batch runs to completion once.

    A running batch is claimable again once its heartbeat is older than IRIS_BATCH_LEASE_S: its
    worker died (the broker redelivers unacknowledged tasks of a killed worker). Until then the
    answer is HELD, and the caller must look again rather than drop the task: the redelivery can
    arrive before the dead worker's lease has run out.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.IRIS_BATCH_LEASE_S)
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
    claimed = GenerationBatch.objects.filter(claimable, pk=batch_id, job__cancel_requested=False).update(
        status=JobStatus.RUNNING, claimed_by=worker, heartbeat_at=now, attempts=F("attempts") + 1)
    if claimed:
        GenerationJob.objects.filter(batches__pk=batch_id, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, started_at=now)
        return Claim.CLAIMED
    held = GenerationBatch.objects.filter(pk=batch_id, status=JobStatus.RUNNING, job__cancel_requested=False)
    return Claim.HELD if held.exists() else Claim.CLOSED


def batch_progress(*, batch_id: int, worker: str, steps_done: int | None = None, loss: float | None = None) -> bool:
    """Beat the batch's heartbeat (and record its progress, when given); the answer says whether to
    go on: False once the job is cancelled, or once this worker no longer holds the batch (its lease
    ran out and another worker claimed it: two copies must never both run it)."""
    fields = {"heartbeat_at": timezone.now()}
    if steps_done is not None:
        fields["steps_done"] = steps_done
    if loss is not None:
        # A NaN would make every JSON answer about the job invalid; the run fails on it anyway.
        fields["current_loss"] = loss if math.isfinite(loss) else None
    held = GenerationBatch.objects.filter(pk=batch_id, status=JobStatus.RUNNING, claimed_by=worker).update(**fields)
    return bool(held) and not GenerationJob.objects.filter(batches__pk=batch_id, cancel_requested=True).exists()


def batch_finish(*, batch_id: int, status: str, error: str = "", worker: str | None = None) -> None:
    """End a running batch; with ``worker``, only if that worker still holds it."""
    running = GenerationBatch.objects.filter(pk=batch_id, status=JobStatus.RUNNING)
    if worker is not None:
        running = running.filter(claimed_by=worker)
    running.update(status=status, error=error[:5000], heartbeat_at=timezone.now())
    job_refresh(job_id=GenerationBatch.objects.values_list("job_id", flat=True).get(pk=batch_id))


def job_refresh(*, job_id: int) -> None:
    """Derive the job's status from its batches once none is left to run."""
    job = GenerationJob.objects.get(pk=job_id)
    statuses = set(job.batches.values_list("status", flat=True))
    if statuses & {JobStatus.QUEUED, JobStatus.RUNNING}:
        return
    if JobStatus.FAILED in statuses:
        final, error = JobStatus.FAILED, "; ".join(
            f"batch {b.index}: {b.error}" for b in job.batches.filter(status=JobStatus.FAILED)[:5])
    elif job.cancel_requested or JobStatus.CANCELLED in statuses:
        final, error = JobStatus.CANCELLED, ""
    else:
        final, error = JobStatus.DONE, ""
    ended = GenerationJob.objects.filter(pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=final, error=error, finished_at=timezone.now())
    # Only the call that ended the job tells its owner (two batches may end at once); a researcher
    # who cancelled a job knows.
    if ended and final != JobStatus.CANCELLED:
        job.refresh_from_db()
        job_notify(job=job)


def stimulus_store(
    *, batch: GenerationBatch, target: TargetImage, target_png: bytes, seed_png: bytes, iri_png: bytes,
    metrics: dict,
) -> Stimulus | None:
    """Store one IRI and its images; a second copy of the same (job, target, layer) is dropped."""
    stimulus = Stimulus(job_id=batch.job_id, batch=batch, target=target, layer=batch.layer, **metrics)
    try:
        with files_removed_on_error() as stored:
            for field, data in ((stimulus.target_png, target_png), (stimulus.seed_png, seed_png),
                                (stimulus.iri_png, iri_png)):
                field.save(opaque_png_name(), ContentFile(data), save=False)
                stored.append(field)
            with transaction.atomic():
                stimulus.save()
    except IntegrityError:
        logger.info("IRI of target %s at %s in job %s already stored", target.pk, batch.layer, batch.job_id)
        return None
    return stimulus
