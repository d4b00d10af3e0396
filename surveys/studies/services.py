"""Writes for studies: made from finished generation jobs, opened and closed by the researcher."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.generation.models import GenerationJob, JobStatus
from surveys.studies.design import StudyDesign
from surveys.studies.models import Condition, Study, StudyItem, StudyStatus
from surveys.studies.paradigms import Paradigm


def condition_label(job: GenerationJob, layer: str) -> str:
    spec = job.spec
    return f"{job.model.name} / {layer} / {spec.loss} / {spec.seed_type}"


def study_create(*, owner, name: str, jobs: Sequence[GenerationJob], paradigm: str = Paradigm.TWO_AFC,
                 design: dict | None = None, completion_url: str = "") -> Study:
    """A study with one condition per (job, layer) and one item per IRI; `design` holds the paradigm's
    options (StudyDesign), stored in full so the study's design never drifts."""
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
                                     completion_url=completion_url)
        study.jobs.set(jobs)
        for job in jobs:
            for layer in job.layers:
                condition = Condition.objects.create(study=study, job=job, layer=layer,
                                                     label=condition_label(job, layer))
                StudyItem.objects.bulk_create(
                    StudyItem(study=study, condition=condition, stimulus=stimulus)
                    for stimulus in job.stimuli.filter(layer=layer)
                )
        if not study.items.exists():
            raise ValidationError("The chosen jobs produced no IRIs.")
        study_check_feasible(study=study)
    return study


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
