"""Writes for studies: made from finished generation jobs, opened and closed by the researcher."""

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext

from surveys.generation.models import GenerationJob, JobStatus, Stimulus
from surveys.studies.design import StudyDesign
from surveys.studies.models import CONSENT_TEMPLATE, DEFAULT_LANGUAGE, Condition, Study, StudyItem, StudyStatus
from surveys.studies.paradigms import PARADIGMS, Paradigm

# What participants see besides the design; study_update may change these until the design freezes.
# The language too: the pages' own words in it are part of what participants read.
STUDY_TEXTS = ("language", "consent_text", "instructions_html", "prompt", "scale_low_label", "scale_high_label",
               "debrief_text")
# What may change at any time: how the study is named and how participants are sent back to the platform.
STUDY_SETTINGS = ("name", "completion_url", "completion_code", "code_no_consent", "code_failed_gate",
                  "code_incompatible")


class StudyFrozen(ValidationError):
    """The design cannot change any more: a participant who counts has seen it (the API answers 409)."""


def condition_label(job: GenerationJob, layer: str) -> str:
    spec = job.spec
    return f"{job.model.name} / {layer} / {spec.loss} / {spec.seed_type}"


def study_build(*, owner, name: str, jobs: Sequence[GenerationJob], paradigm: str = Paradigm.TWO_AFC,
                design: dict | None = None, completion_url: str = "", include_failing: bool = False,
                language: str = DEFAULT_LANGUAGE) -> Study:
    """A study's rows: one condition per (job, layer), one item per IRI, its paradigm's texts in its
    ``language`` and the design in full (StudyDesign), so it never drifts. Only IRIs that pass their
    job's criterion become items unless ``include_failing`` (recorded on the study): a failing or
    never-judged image is not known to be an IRI (docs/engine/option-criterion.md). Call it inside a
    transaction; researchers' studies are made by surveys.scoring.services.study_create, which adds
    the exclusion rules."""
    design = StudyDesign.from_dict(design, paradigm=paradigm)
    _check_language(language)
    if not jobs:
        raise ValidationError("Choose at least one generation job.")
    for job in jobs:
        if job.owner_id != owner.pk:
            raise ValidationError("You can only build studies from your own jobs.")
        if job.status != JobStatus.DONE:
            raise ValidationError(f"Job {job.pk} is {job.status}; only finished jobs can be surveyed.")
    with transaction.atomic():
        study = Study.objects.create(
            owner=owner, name=name, paradigm=paradigm, design=design.to_dict(), completion_url=completion_url,
            includes_failing_iris=include_failing, language=language,
            **paradigm_texts(paradigm=paradigm, language=language))
        study.jobs.set(jobs)
        for job in jobs:
            _conditions_add(study=study, job=job, include_failing=include_failing)
        if not study.items.exists():
            raise ValidationError(_no_items_reason(jobs))
        study_check_feasible(study=study)
    return study


def paradigm_texts(*, paradigm: str, language: str) -> dict[str, str]:
    """What a new study of ``paradigm`` tells its participants, in ``language``: Study's text fields."""
    traits = PARADIGMS[paradigm]
    with translation.override(language):
        return {"consent_text": gettext(CONSENT_TEMPLATE).format(task=gettext(traits.task)),
                "instructions_html": gettext(traits.instructions), "prompt": gettext(traits.prompt),
                "scale_low_label": gettext(traits.scale_labels[0]) if traits.scale_labels[0] else "",
                "scale_high_label": gettext(traits.scale_labels[1]) if traits.scale_labels[1] else ""}


def _check_language(language: str) -> None:
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(f"Unknown language {language!r}; choose one of "
                              f"{', '.join(code for code, _ in settings.LANGUAGES)}.")


def _surveyed(stimuli: QuerySet[Stimulus], *, include_failing: bool) -> QuerySet[Stimulus]:
    return stimuli if include_failing else stimuli.filter(passes=True)


def _conditions_add(*, study: Study, job: GenerationJob, include_failing: bool) -> None:
    for layer in job.layers:
        condition = Condition.objects.create(study=study, job=job, layer=layer, label=condition_label(job, layer))
        StudyItem.objects.bulk_create(
            StudyItem(study=study, condition=condition, stimulus=stimulus)
            for stimulus in _surveyed(job.stimuli.filter(layer=layer), include_failing=include_failing)
        )


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


def study_frozen_since(*, study: Study):
    """When the first non-pilot participant started (the design froze then), or None: still editable."""
    first = study.participants.filter(is_pilot=False).order_by("created_at").values_list("created_at", flat=True)
    return first.first()


def study_update(*, study: Study, design: dict | None = None, **fields: str) -> Study:
    """Change a study: its design and what its participants read (STUDY_TEXTS) bump its design version
    and are refused with StudyFrozen once a non-pilot participant has started, so that everyone who
    counts saw the same study; STUDY_SETTINGS change at any time. Checked under the study's lock,
    which participant_enter also takes. A refusal changes nothing."""
    unknown = sorted(set(fields) - {*STUDY_TEXTS, *STUDY_SETTINGS})
    if unknown:
        raise ValidationError(f"These cannot be edited: {', '.join(unknown)}.")
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if design is not None:
            design = StudyDesign.from_dict(design, paradigm=locked.paradigm).to_dict()
        # A browser sends a textarea's line breaks as CRLF; the same text must not count as a change.
        fields = {key: value.replace("\r\n", "\n") for key, value in fields.items()}
        texts = {key: value for key, value in fields.items() if key in STUDY_TEXTS}
        # Compared in full: a design stored before an option existed lacks it, yet means its default.
        stored = StudyDesign.from_dict(locked.design, paradigm=locked.paradigm).to_dict()
        if (design is not None and design != stored) or any(getattr(locked, k) != v for k, v in texts.items()):
            _refuse_if_frozen(study=locked)
            locked.design = locked.design if design is None else design
            locked.design_version += 1
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["owner", "jobs", "public_id"])
        study_check_feasible(study=locked)
        locked.save()
    return locked


def _refuse_if_frozen(*, study: Study) -> None:
    since = study_frozen_since(study=study)
    if since is not None:
        raise StudyFrozen(f"The design of {study.name} is frozen: a participant started on {since:%Y-%m-%d %H:%M} "
                          "UTC, and everyone who counts must see the same study. To change it, make a new study "
                          "from the same jobs.")
