"""Reads for the generation app."""

import math

from django.db.models import Q, QuerySet, Sum

from surveys.generation.models import GenerationJob, JobStatus, RegisteredModel, Stimulus, TargetImage


def jobs_visible_to(*, user) -> QuerySet[GenerationJob]:
    jobs = GenerationJob.objects.all()
    return jobs if user.is_superuser else jobs.filter(owner=user)


def job_progress(*, job: GenerationJob) -> dict:
    """Steps done over steps to do, across the job's batches, plus the latest loss."""
    totals = job.batches.aggregate(done=Sum("steps_done"), total=Sum("steps_total"))
    done, total = totals["done"] or 0, totals["total"] or 0
    latest = job.batches.filter(current_loss__isnull=False).order_by("-heartbeat_at").first()
    return {
        "status": job.status,
        "steps_done": done,
        "steps_total": total,
        "fraction": (done / total) if total else 0.0,
        # A row written before NaN losses were refused may hold one; JSON has no NaN.
        "current_loss": latest.current_loss if latest and math.isfinite(latest.current_loss) else None,
        "batches_done": job.batches.filter(status=JobStatus.DONE).count(),
        "batches_total": job.batches.count(),
        "iris": job.stimuli.count(),
        "error": job.error,
    }


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
