"""Reads for the generation app."""

import math
from collections.abc import Sequence

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from surveys.generation.models import (
    GenerationJob,
    JobKind,
    JobStatus,
    NotificationSettings,
    RegisteredModel,
    Stimulus,
    TargetImage,
    TargetSet,
)


def jobs_visible_to(*, user) -> QuerySet[GenerationJob]:
    jobs = GenerationJob.objects.all()
    return jobs if user.is_superuser else jobs.filter(owner=user)


def jobs_by_id(*, user, ids: Sequence[int]) -> list[GenerationJob]:
    """The jobs this researcher may see, by id, in the order given (once each); an id they cannot see
    is a 404 that names it."""
    found = jobs_visible_to(user=user).in_bulk(list(ids))
    missing = [job_id for job_id in ids if job_id not in found]
    if missing:
        raise Http404(f"You have no generation job with id {missing[0]}.")
    return [found[job_id] for job_id in dict.fromkeys(ids)]


def job_progress(*, job: GenerationJob) -> dict:
    """Steps done over steps to do, across the job's batches, plus the latest loss."""
    totals = job.batches.aggregate(done=Sum("steps_done"), total=Sum("steps_total"))
    done, total = totals["done"] or 0, totals["total"] or 0
    latest = job.batches.filter(current_loss__isnull=False).order_by("-heartbeat_at").first()
    return {
        "status": job.status,
        "steps_done": done,
        "steps_total": total,
        # An imported set has no steps: it is whole once it is done.
        "fraction": (done / total) if total else float(job.status == JobStatus.DONE),
        # A row written before NaN losses were refused may hold one; JSON has no NaN.
        "current_loss": latest.current_loss if latest and math.isfinite(latest.current_loss) else None,
        "batches_done": job.batches.filter(status=JobStatus.DONE).count(),
        "batches_total": job.batches.count(),
        "iris": job.stimuli.count(),
        "error": job.error,
    }


VERDICT_COUNTS = {"passed": Count("pk", filter=Q(passes=True)), "failed": Count("pk", filter=Q(passes=False)),
                  "unjudged": Count("pk", filter=Q(passes__isnull=True))}


def stimulus_verdict_counts(*, stimuli: QuerySet[Stimulus]) -> dict[tuple[int, str], dict]:
    """{(job id, layer): {"passed", "failed", "unjudged"}}: how many of these IRIs pass their
    job's criterion, fail it, or were stored before IRIs were judged."""
    rows = stimuli.order_by().values("job_id", "layer").annotate(**VERDICT_COUNTS)
    return {(row["job_id"], row["layer"]): {key: row[key] for key in VERDICT_COUNTS} for row in rows}


def job_verdicts(*, job: GenerationJob) -> dict:
    """The job's criterion, its null's natural images, and how many IRIs passed and failed, in all
    and per layer (what admin and the API show beside the job). An imported set's IRIs were judged by
    their maker (their manifest's ``passes``): it has no criterion and no null (both None)."""
    per_layer = {layer: counts for (_, layer), counts in stimulus_verdict_counts(stimuli=job.stimuli.all()).items()}
    totals = {key: sum(counts[key] for counts in per_layer.values()) for key in VERDICT_COUNTS}
    if job.kind == JobKind.IMPORTED:
        return {**totals, "per_layer": per_layer, "criterion": None, "null_images": None}
    criterion = job.spec.criterion
    naturals = job.null_reference if criterion.null == "reference" else job.target_set
    return {**totals, "per_layer": per_layer, "criterion": criterion.to_dict(),
            "null_images": {"id": naturals.pk, "name": naturals.name}}


def file_visible_to(*, user, name: str) -> bool:
    """Whether a stored file belongs to something this researcher owns."""
    if user.is_superuser:
        return True
    own = Q(job__owner=user)
    return (
        Stimulus.objects.filter(own & (Q(iri_png=name) | Q(seed_png=name) | Q(target_png=name))).exists()
        or TargetImage.objects.filter(target_set__owner=user, image=name).exists()
        or RegisteredModel.objects.filter(owner=user, weights=name).exists()
    )


def target_sets_visible_to(*, user) -> QuerySet[TargetSet]:
    """A researcher's own target sets, with how many images each holds."""
    return TargetSet.objects.filter(owner=user).annotate(image_count=Count("images")).order_by("pk")


def stimulus_sets_of(*, user) -> QuerySet[GenerationJob]:
    """A researcher's own imported stimulus sets (jobs of kind "imported"), oldest first."""
    return (GenerationJob.objects.filter(owner=user, kind=JobKind.IMPORTED).select_related("target_set")
            .order_by("pk"))


def stimuli_visible_to(*, user) -> QuerySet[Stimulus]:
    """The IRIs of the jobs this researcher may see (jobs_visible_to), with their targets."""
    return Stimulus.objects.filter(job__in=jobs_visible_to(user=user)).select_related("target")


def notification_settings_of(*, owner) -> NotificationSettings:
    """How this researcher is told of events: their saved settings, or the defaults (unsaved)."""
    return NotificationSettings.objects.filter(owner=owner).first() or NotificationSettings(owner=owner)
