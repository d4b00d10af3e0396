"""Writes for studies: made from finished generation jobs, opened and closed by the researcher."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from surveys.generation.models import GenerationJob, JobStatus, Stimulus
from surveys.studies.design import StudyDesign
from surveys.studies.models import Condition, Study, StudyItem, StudyStatus
from surveys.studies.paradigms import Paradigm


def condition_label(job: GenerationJob, layer: str) -> str:
    spec = job.spec
    return f"{job.model.name} / {layer} / {spec.loss} / {spec.seed_type}"


def study_create(*, owner, name: str, jobs: Sequence[GenerationJob], paradigm: str = Paradigm.TWO_AFC,
                 design: dict | None = None, completion_url: str = "", include_failing: bool = False) -> Study:
    """A study with one condition per (job, layer) and one item per IRI; `design` holds the paradigm's
    options (StudyDesign), stored in full so the study's design never drifts.

    Only IRIs that pass their job's criterion become items unless ``include_failing`` (recorded on
    the study): a failing or never-judged image is not known to be an IRI (docs/engine/option-criterion.md).
    """
    design = StudyDesign.from_dict(design, paradigm=paradigm)
    if not jobs:
        raise ValidationError("Choose at least one generation job.")
    for job in jobs:
        if job.owner_id != owner.pk:
            raise ValidationError("You can only build studies from your own jobs.")
        if job.status != JobStatus.DONE:
            raise ValidationError(f"Job {job.pk} is {job.status}; only finished jobs can be surveyed.")
    with transaction.atomic():
        study = Study.objects.create(owner=owner, name=name, paradigm=paradigm, design=design.to_dict(),
                                     completion_url=completion_url, includes_failing_iris=include_failing)
        study.jobs.set(jobs)
        for job in jobs:
            for layer in job.layers:
                condition = Condition.objects.create(study=study, job=job, layer=layer,
                                                     label=condition_label(job, layer))
                StudyItem.objects.bulk_create(
                    StudyItem(study=study, condition=condition, stimulus=stimulus)
                    for stimulus in _surveyed(job.stimuli.filter(layer=layer), include_failing=include_failing)
                )
        if not study.items.exists():
            raise ValidationError(_no_items_reason(jobs))
        study_check_feasible(study=study)
    return study


def _surveyed(stimuli: QuerySet[Stimulus], *, include_failing: bool) -> QuerySet[Stimulus]:
    return stimuli if include_failing else stimuli.filter(passes=True)


def _no_items_reason(jobs: Sequence[GenerationJob]) -> str:
    stored = Stimulus.objects.filter(job__in=jobs).count()
    if not stored:
        return "The chosen jobs produced no IRIs."
    return (f"None of the {stored} images the chosen jobs stored passes its job's IRI criterion; "
            "choose to include failing IRIs to survey them anyway.")


def study_check_feasible(*, study: Study) -> None:
    """Refuse designs the IRIs cannot fill: too few targets for K options, no categories to classify."""
    per_job: dict[int, set[int]] = {}
    for job_id, target_id in study.items.values_list("stimulus__job_id", "stimulus__target_id").distinct():
        per_job.setdefault(job_id, set()).add(target_id)
    fewest = min(len(targets) for targets in per_job.values())
    needed = study.design_spec.targets_per_trial
    if fewest < needed:
        raise ValidationError(f"This design needs at least {needed} targets per job; a job has {fewest}.")
    if study.paradigm == Paradigm.CLASSIFICATION:
        categories = set(study.items.values_list("stimulus__target__category", flat=True))
        if "" in categories or len(categories) < 2:
            raise ValidationError("Classification needs every target to have a category, and two or more categories.")


def study_set_status(*, study: Study, status: str) -> Study:
    if status not in StudyStatus.values:
        raise ValidationError(f"Unknown status {status!r}.")
    study.status = status
    study.save(update_fields=["status"])
    return study
