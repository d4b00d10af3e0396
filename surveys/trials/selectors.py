"""Reads for the participant side."""

from django.shortcuts import get_object_or_404

from surveys.trials.models import Participant, Trial, TrialKind

BREAKS_PER_MAIN_BLOCK = 4  # a pause at each quarter (Feather)
# Shorter main blocks get no breaks: a pause every few trials would only interrupt.
MIN_TRIALS_FOR_BREAKS = 40


def participant_by_token(*, token: str) -> Participant:
    return get_object_or_404(Participant.objects.select_related("study"), token=token)


def trials_pending(*, participant: Participant, limit: int) -> list[Trial]:
    """The next unanswered trials, never past an unanswered gate trial: nobody sees the main block
    before the gate has been passed."""
    pending = participant.trials.filter(response__isnull=True).order_by("index")
    last_gate = (participant.trials.filter(kind=TrialKind.QUALIFICATION, response__isnull=True)
                 .order_by("-index").values_list("index", flat=True).first())
    if last_gate is not None:
        pending = pending.filter(index__lte=last_gate)
    return list(pending[:limit])


def trial_counts(*, participant: Participant) -> tuple[int, int]:
    """(answered, total) for the progress bar."""
    total = participant.trials.count()
    answered = participant.trials.filter(response__isnull=False).count()
    return answered, total


def break_indexes(*, participant: Participant) -> set[int]:
    """Trial indexes that open a new quarter of the main block (main and catch trials together)."""
    main = list(participant.trials.filter(kind__in=[TrialKind.MAIN, TrialKind.CATCH])
                .order_by("index").values_list("index", flat=True))
    if len(main) < MIN_TRIALS_FOR_BREAKS:
        return set()
    cuts = {round(len(main) * quarter / BREAKS_PER_MAIN_BLOCK) for quarter in range(1, BREAKS_PER_MAIN_BLOCK)}
    return {main[cut] for cut in cuts if 0 < cut < len(main)}
