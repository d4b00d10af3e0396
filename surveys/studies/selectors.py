"""Reads for studies: live progress for the researcher."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count

from surveys.studies.models import Study

ENDED_EARLY = ("declined", "failed_gate", "incompatible", "timed_out")


@dataclass(frozen=True)
class ConditionProgress:
    label: str
    started: int  # every non-pilot session holding trials in this condition
    active: int  # started or consented, not yet finished
    completed: int
    excluded: int  # ended early: declined, failed the gate, incompatible device, timed out


def study_progress(*, study: Study) -> list[ConditionProgress]:
    """Per condition, counted over sessions with main trials in it; pilot sessions left out."""
    from surveys.trials.models import Trial, TrialKind  # trials depends on studies, not the reverse

    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = (Trial.objects.filter(participant__study=study, participant__is_pilot=False, kind=TrialKind.MAIN)
            .values("condition_id", "participant__status").annotate(n=Count("participant", distinct=True)))
    for row in rows:
        counts[row["condition_id"]][row["participant__status"]] += row["n"]
    progress = []
    for condition in study.conditions.order_by("pk"):
        by_status = counts[condition.pk]
        progress.append(ConditionProgress(
            label=condition.label, started=sum(by_status.values()),
            active=by_status["started"] + by_status["consented"], completed=by_status["completed"],
            excluded=sum(by_status[status] for status in ENDED_EARLY)))
    return progress
