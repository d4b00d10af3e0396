"""Reads for the generation app."""

from django.db.models import Q, QuerySet, Sum

from surveys.generation.models import GenerationJob, RegisteredModel, Stimulus, TargetImage


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
        "current_loss": latest.current_loss if latest else None,
        "batches_done": job.batches.filter(status="done").count(),
        "batches_total": job.batches.count(),
        "iris": job.stimuli.count(),
        "error": job.error,
    }


def job_recognition(*, job: GenerationJob, resamples: int = 1000) -> dict[str, dict]:
    """Each recognizer's accuracy on the job's IRIs with a bootstrap SEM (Feather; science.md section 3)."""
    import numpy as np

    flags: dict[str, list[bool]] = {}
    for recognition in job.stimuli.values_list("recognition", flat=True):
        for name, row in (recognition or {}).items():
            flags.setdefault(name, []).append(bool(row["agrees"]))
    summary = {}
    rng = np.random.default_rng(0)
    for name, values in flags.items():
        correct = np.array(values, dtype=float)
        means = correct[rng.integers(0, len(correct), (resamples, len(correct)))].mean(axis=1)
        summary[name] = {"accuracy": float(correct.mean()), "sem": float(means.std(ddof=1)), "n": len(correct)}
    return summary


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
