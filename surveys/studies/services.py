"""Writes for studies: made from finished generation jobs, opened and closed by the researcher."""

from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from surveys.generation.models import GenerationJob, JobStatus, Stimulus
from surveys.studies.design import StudyDesign
from surveys.studies.models import (
    CONSENT_TEMPLATE,
    DEFAULT_LANGUAGE,
    STUDY_TEXTS,
    Condition,
    Study,
    StudyItem,
    StudyStatus,
    StudyVersion,
)
from surveys.studies.paradigms import PARADIGMS, Paradigm

# What may change at any time: how the study is named, how participants are sent back to the platform,
# and how long their recruitment ids are kept.
STUDY_SETTINGS = ("name", "completion_url", "completion_code", "code_no_consent", "code_failed_gate",
                  "code_incompatible", "retention_days")


class StudyFrozen(ValidationError):
    """The design cannot change any more: a participant who counts has seen it (the API answers 409)."""


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
        _version_record(study=study, author=owner)
    return study


def _version_record(*, study: Study, author) -> StudyVersion:
    """The study's design and texts as they stand, on record as its version ``design_version``."""
    return StudyVersion.objects.create(study=study, number=study.design_version, design=study.design,
                                       created_by=author, **{name: getattr(study, name) for name in STUDY_TEXTS})
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
        condition = Condition.objects.create(study=study, job=job, layer=layer, label=job.cell_labels(layer).label)
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
    design = study.design_spec
    needed = design.targets_per_trial
    if fewest < needed:
        raise ValidationError(f"This design needs at least {needed} targets per job; a job has {fewest}.")
    if design.paradigm == Paradigm.TWO_AFC and design.foils == "seed" and study.items.filter(
            stimulus__seed_png="").exists():
        raise ValidationError("2AFC with the seed as the foil needs each IRI's seed, and an imported set here has "
                              "none: choose another target as the foil (the design's foils: other_target).")
    if study.paradigm == Paradigm.CLASSIFICATION:
        categories = set(study.items.values_list("stimulus__target__category", flat=True))
        if "" in categories or len(categories) < 2:
            raise ValidationError("Classification needs every target to have a category, and two or more categories.")


def study_set_status(*, study: Study, status: str, reason: str = "") -> Study:
    """Open or close a study. Closing records why (``reason``) and when; closing a closed study keeps
    the first reason. Opening clears both. Sessions under way may finish either way."""
    if status not in StudyStatus.values:
        raise ValidationError(f"Unknown status {status!r}.")
    if status == StudyStatus.CLOSED:
        fields = {"status": status, "closed_reason": reason or "closed", "closed_at": timezone.now()}
    else:
        fields = {"status": status, "closed_reason": "", "closed_at": None}
    # Conditional, so two closings at once (the stopping rule and the researcher) keep one reason.
    Study.objects.filter(pk=study.pk).exclude(status=status).update(**fields)
    study.refresh_from_db(fields=["status", "closed_reason", "closed_at"])
    return study


def study_frozen_since(*, study: Study):
    """When the first non-pilot participant started (the design froze then), or None: still editable."""
    first = study.participants.filter(is_pilot=False).order_by("created_at").values_list("created_at", flat=True)
    return first.first()


def study_update(*, study: Study, editor, design: dict | None = None, **fields: str | int | None) -> Study:
    """Change a study. A change to its design or to what its participants read (STUDY_TEXTS) records
    the next StudyVersion (by ``editor``); the versions before it are never rewritten, and each
    participant keeps pointing at the one they were shown. The design is refused with StudyFrozen once
    a non-pilot participant has started, so that everyone who counts takes the same study; the texts
    may still change (a corrected consent, clearer instructions), and new participants get them.
    STUDY_SETTINGS change at any time. Checked under the study's lock, which participant_enter also
    takes. A refusal changes nothing."""
    unknown = sorted(set(fields) - {*STUDY_TEXTS, *STUDY_SETTINGS})
    if unknown:
        raise ValidationError(f"These cannot be edited: {', '.join(unknown)}.")
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if design is not None:
            design = StudyDesign.from_dict(design, paradigm=locked.paradigm).to_dict()
        # A browser sends a textarea's line breaks as CRLF; the same text must not count as a change.
        fields = {key: value.replace("\r\n", "\n") if isinstance(value, str) else value
                  for key, value in fields.items()}
        # Compared in full: a design stored before an option existed lacks it, yet means its default.
        stored = StudyDesign.from_dict(locked.design, paradigm=locked.paradigm).to_dict()
        redesigned = design is not None and design != stored
        if redesigned:
            _refuse_if_frozen(study=locked)
            locked.design = design
        new_version = redesigned or any(getattr(locked, k) != v for k, v in fields.items() if k in STUDY_TEXTS)
        if new_version:
            locked.design_version += 1
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["owner", "jobs", "public_id"])
        study_check_feasible(study=locked)
        locked.save()
        if new_version:
            _version_record(study=locked, author=editor)
    return locked


def _refuse_if_frozen(*, study: Study) -> None:
    since = study_frozen_since(study=study)
    if since is not None:
        raise StudyFrozen(f"The design of {study.name} is frozen: a participant started on {since:%Y-%m-%d %H:%M} "
                          "UTC, and everyone who counts must take the same study. Its texts can still change (as a "
                          "new version); for another design, clone it into a new draft.")


# What a clone does not take from its original: its owner and identity, whether it admits anyone (a
# clone starts closed, a draft), its version count, and the completion codes, which tell a recruitment
# platform which study a session finished. Every other field of Study is copied, whenever it was added.
NOT_CLONED = ("id", "owner", "public_id", "status", "closed_reason", "closed_at", "design_version", "created_at",
              "completion_code",
              "code_no_consent", "code_failed_gate", "code_incompatible")


def study_copy(*, study: Study, owner) -> Study:
    """A new draft of the owner's study: everything the researcher configured on it (design, questions,
    texts, completion URL, jobs, conditions and the very IRIs it surveys) and none of its participants
    or responses. Closed, so nobody is admitted before the researcher opens it (they can pilot it), at
    version 1 by ``owner``. Only the study's owner may copy it. Call it inside a transaction;
    researchers clone through surveys.scoring.services.study_clone, which copies the exclusion rules."""
    if study.owner_id != owner.pk:
        raise ValidationError("You can only clone your own studies.")
    copied = {field.attname: getattr(study, field.attname) for field in Study._meta.concrete_fields
              if field.name not in NOT_CLONED}
    copied["name"] = f"{study.name[:193]} (copy)"  # a name is at most 200 characters
    copy = Study.objects.create(**copied, owner=owner, status=StudyStatus.CLOSED)
    copy.jobs.set(study.jobs.all())
    for condition in study.conditions.order_by("pk"):
        twin = Condition.objects.create(study=copy, job_id=condition.job_id, layer=condition.layer,
                                        label=condition.label)
        StudyItem.objects.bulk_create(StudyItem(study=copy, condition=twin, stimulus_id=stimulus_id) for stimulus_id
                                      in condition.items.order_by("pk").values_list("stimulus_id", flat=True))
    _version_record(study=copy, author=owner)
    return copy
