"""Writes for scoring: a study's exclusion rules, and the append-only trail of exclusion decisions."""

from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.scoring.models import DecisionSource, ExclusionDecision, ExclusionRules
from surveys.scoring.selectors import study_exclusions
from surveys.studies.models import Study
from surveys.trials.models import Participant, ParticipantStatus

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
    return rules


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
        return ExclusionDecision.objects.create(study=study, participant=participant, excluded=excluded,
                                                reason="", source=DecisionSource.OVERRIDE, note=note.strip(),
                                                author=author)
