"""Writes for scoring: making a study with its exclusion rules, a study's rules, and the append-only
trail of exclusion decisions."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.generation.models import GenerationJob
from surveys.scoring.models import DecisionSource, ExclusionDecision, ExclusionRules
from surveys.scoring.recruitment_services import recruitment_recheck
from surveys.scoring.selectors import exclusion_rules_of, study_exclusions
from surveys.studies.models import DEFAULT_LANGUAGE, Study
from surveys.studies.paradigms import PARADIGMS, Paradigm
from surveys.studies.services import study_build, study_copy
from surveys.trials.models import Participant, ParticipantStatus

# The rule every new study starts with (docs/method.md §3): a participant who gets fewer than this share
# of catch trials right was not attending. The researcher may change or clear it (admin → Exclusion rules).
DEFAULT_CATCH_MIN_ACCURACY = 0.75

RULE_FIELDS = ("catch_min_accuracy", "min_median_rt_ms", "max_one_sided_share", "qualification_min_correct",
               "max_focus_lost_share", "target_ci_width")


def exclusion_rules_set(*, study: Study, **values) -> ExclusionRules:
    """Set a study's rules (None switches a rule off); values outside their range are refused."""
    unknown = sorted(set(values) - set(RULE_FIELDS))
    if unknown:
        raise ValidationError(f"Unknown exclusion rules: {', '.join(unknown)}.")
    rules = ExclusionRules.objects.filter(study=study).first() or ExclusionRules(study=study)
    for name, value in values.items():
        setattr(rules, name, value)
    rules.full_clean()
    rules.save()
    recruitment_recheck(study=study)  # the target or who is excluded may have changed
    return rules


def exclusion_rules_delete(*, study: Study) -> None:
    """Drop a study's rules: only its design's gate is applied until rules are set again."""
    ExclusionRules.objects.filter(study=study).delete()
    recruitment_recheck(study=study)


def study_create(*, owner, jobs: Sequence[GenerationJob], paradigm: str = Paradigm.TWO_AFC,
                 design: dict | None = None, name: str = "", completion_url: str = "",
                 include_failing: bool = False, language: str = DEFAULT_LANGUAGE) -> Study:
    """A researcher's study: the one path for the admin form, the admin's actions, the API and the demo.

    ``design`` holds the options the researcher set (StudyDesign; the rest take its defaults:
    practice, a gate and catch trials); the study starts with its paradigm's texts and with exclusion
    rules: catch accuracy below DEFAULT_CATCH_MIN_ACCURACY, and the gate's pass mark when it has one.
    ``name`` empty: named after its paradigm and jobs. Only IRIs that pass their job's criterion
    become items unless ``include_failing`` (studies.services.study_build). Its participant pages and
    its first texts are in ``language`` (settings.LANGUAGES). A refusal saves nothing.
    """
    if not name.strip():
        title = PARADIGMS[paradigm].title if paradigm in PARADIGMS else paradigm
        name = f"{title} study of job(s) {', '.join(str(job.pk) for job in jobs)}"
    with transaction.atomic():
        study = study_build(owner=owner, name=name, jobs=jobs, paradigm=paradigm, design=design,
                            completion_url=completion_url, include_failing=include_failing, language=language)
        gate = study.design_spec.gate
        exclusion_rules_set(study=study, catch_min_accuracy=DEFAULT_CATCH_MIN_ACCURACY,
                            qualification_min_correct=gate.pass_mark if gate else None)
    return study


def study_clone(*, study: Study, owner) -> Study:
    """A new draft of the owner's study with everything its researcher configured, its exclusion rules
    included, and none of its participants or responses (studies.services.study_copy: closed until
    opened, at version 1). Only the owner may clone a study; a refusal saves nothing."""
    with transaction.atomic():
        copy = study_copy(study=study, owner=owner)
        rules = exclusion_rules_of(study=study)
        if rules is not None:
            exclusion_rules_set(study=copy, **{name: getattr(rules, name) for name in RULE_FIELDS})
    return copy


def _latest_rule_rows(*, study: Study) -> dict[int, ExclusionDecision]:
    rows = ExclusionDecision.objects.filter(study=study, source=DecisionSource.RULES).order_by("created_at", "pk")
    return {row.participant_id: row for row in rows}


def exclusions_apply(*, study: Study) -> int:
    """Record what the rules decide for each completed, non-pilot participant; returns rows added.

    Only a change is recorded (a first decision, or a different verdict or reason than the
    participant's latest rules row), so applying twice adds nothing. Overrides are untouched.
    """
    latest = _latest_rule_rows(study=study)
    new_rows = []
    for decision in study_exclusions(study=study):
        excluded = bool(decision.reason)  # what the rules say, whatever an override says
        previous = latest.get(decision.participant_id)
        if previous is None or (previous.excluded, previous.reason) != (excluded, decision.reason):
            new_rows.append(ExclusionDecision(study=study, participant_id=decision.participant_id,
                                              excluded=excluded, reason=decision.reason,
                                              source=DecisionSource.RULES))
    ExclusionDecision.objects.bulk_create(new_rows)
    return len(new_rows)


def exclusion_override(*, study: Study, participant: Participant, excluded: bool, note: str,
                       author) -> ExclusionDecision:
    """A researcher's decision on one participant, with the note that justifies it (kept forever)."""
    if participant.study_id != study.pk:
        raise ValidationError("That participant did not take part in this study.")
    if participant.is_pilot or participant.status != ParticipantStatus.COMPLETED:
        raise ValidationError("Only completed, non-pilot participants are scored.")
    if not note.strip():
        raise ValidationError("Say why: an override needs a note.")
    with transaction.atomic():
        exclusions_apply(study=study)  # the trail shows what the rules said before the override
        decision = ExclusionDecision.objects.create(study=study, participant=participant, excluded=excluded,
                                                    reason="", source=DecisionSource.OVERRIDE, note=note.strip(),
                                                    author=author)
        recruitment_recheck(study=study)  # an excluded participant's place is offered again, and back
    return decision
