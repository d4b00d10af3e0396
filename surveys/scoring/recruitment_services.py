"""The stopping rule at work (docs/method.md §3, "Stopping rule"): when participants complete, a
debounced background check reads the study's scores, copies its exclusion decisions to the
participants (admission then offers an excluded participant's place again), and either closes the
study, recording why, and stops its Prolific study, or keeps Prolific's places in step with the
usable participants the rule still wants.

Scoring is heavy, so a completion only queues a check (tasks.py) unless one is queued already: that
one reads the study when it starts, and so sees every completion until then.
"""

import functools
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from surveys.common.prolific import ProlificError
from surveys.generation.models import NotificationEvent
from surveys.scoring.models import ProlificStudy, ProlificStudyStatus, Recruitment
from surveys.scoring.prolific_services import prolific_places_follow, prolific_places_for, prolific_stop
from surveys.scoring.selectors import RecruitmentReading, study_recruitment
from surveys.scoring.stopping import StoppingVerdict, stopping_verdict
from surveys.scoring.tasks import RECRUITMENT_CHECK_TIME_LIMIT_S, recruitment_check_run
from surveys.studies.models import Study, StudyStatus
from surveys.studies.notifications import study_notify
from surveys.studies.services import study_set_status
from surveys.trials.models import Participant, ParticipantStatus
from surveys.trials.sql import column, db_value, run, table

logger = logging.getLogger(__name__)


def _lost_before():
    """A check queued before this never ran (its message was lost): another may be queued."""
    return timezone.now() - timedelta(seconds=settings.IRIS_RECRUITMENT_CHECK_S + 2 * RECRUITMENT_CHECK_TIME_LIMIT_S)


def _claimed(*, study_id: int) -> bool:
    """Mark a check of the study queued, unless one is (a conditional UPDATE: one claim wins). Every
    completion of a wave asks, and one is queued already for nearly all of them: two prepared
    statements (sql.run), where compiling the ORM's UPDATE and EXISTS cost more than running them."""
    now = timezone.now()
    with connection.cursor() as cursor:
        run(cursor, "iris_recruitment_claim", _claim_query(),
            [db_value(Recruitment, "queued_at", now), study_id, db_value(Recruitment, "queued_at", _lost_before())])
        if cursor.rowcount:
            return True
        run(cursor, "iris_recruitment_exists", _exists_query(), [study_id])
        if cursor.fetchone():
            return False
    try:
        with transaction.atomic():
            Recruitment.objects.create(study_id=study_id, queued_at=now)
    except IntegrityError:  # another request made the row, and queued its check, at this moment
        return False
    return True


@functools.cache
def _claim_query() -> str:
    queued = column(Recruitment, "queued_at")
    return (f"UPDATE {table(Recruitment)} SET {queued} = %s WHERE {column(Recruitment, 'study')} = %s "
            f"AND ({queued} IS NULL OR {queued} < %s)")


@functools.cache
def _exists_query() -> str:
    return f"SELECT 1 FROM {table(Recruitment)} WHERE {column(Recruitment, 'study')} = %s"


def _send(study_id: int, delay_s: int) -> None:
    try:
        recruitment_check_run.apply_async(args=[study_id], countdown=delay_s)
    except OperationalError:  # no broker: the completion is saved; a later one queues the check again
        logger.exception("Could not queue the recruitment check of study %s", study_id)
        Recruitment.objects.filter(study_id=study_id).update(queued_at=None)


def recruitment_check_enqueue(*, study_id: int, delay_s: int | None = None) -> bool:
    """Queue a check of the study's stopping rule, run ``delay_s`` (IRIS_RECRUITMENT_CHECK_S) after this
    transaction commits, unless one is queued already; returns whether this call queued one."""
    delay_s = settings.IRIS_RECRUITMENT_CHECK_S if delay_s is None else delay_s
    if not _claimed(study_id=study_id):
        return False
    transaction.on_commit(lambda: _send(study_id, delay_s))
    return True


def participant_completed_receive(sender, participant: Participant, **_) -> None:
    """trials.signals.participant_completed (connected in apps.py): a completion may meet the rule."""
    if not participant.is_pilot:
        recruitment_check_enqueue(study_id=participant.study_id)


def recruitment_recheck(*, study: Study) -> None:
    """After a researcher's change to what the rule reads (the target, the exclusion rules, an
    override): check at once, if anyone has completed the study."""
    if study.participants.filter(status=ParticipantStatus.COMPLETED, is_pilot=False).exists():
        recruitment_check_enqueue(study_id=study.pk, delay_s=0)


@dataclass(frozen=True)
class Closure:
    study: Study
    prolific: str  # what happened on Prolific, in words; "" when the study has no Prolific study


def _tried(study: Study, call: Callable[[], ProlificStudy | None], *, failure: str) -> tuple[ProlificStudy | None, str]:
    """(the Prolific study, "") after a write to Prolific, or (None, why not): a refusal, or no token,
    is logged and told, never raised, since the study's own state is already saved; the next check
    tries again."""
    try:
        return call(), ""
    except (ProlificError, ValidationError) as error:
        words = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        logger.warning("Study %s: %s: %s", study.pk, failure, words)
        return None, f"{failure}: {words}"


def _prolific_stopped(study: Study) -> str:
    linked, failed = _tried(study, lambda: prolific_stop(study=study), failure="its Prolific study was not stopped")
    if linked is None:
        return failed
    if linked.status == ProlificStudyStatus.DRAFT:
        return f"its Prolific study {linked.prolific_id} is a draft: nothing to stop"
    return f"its Prolific study {linked.prolific_id} is stopped"


def study_close(*, study: Study, reason: str) -> Closure:
    """Close the study, recording why (nobody new is admitted; sessions under way may finish), and stop
    its Prolific study so Prolific sends nobody more. A refusal by Prolific leaves the study closed
    here and is told in ``prolific``; the next recruitment check tries again."""
    study = study_set_status(study=study, status=StudyStatus.CLOSED, reason=reason)
    return Closure(study, _prolific_stopped(study))


def _excluded_copy(*, study: Study, excluded: Collection[int]) -> None:
    """Participant.excluded follows the decisions, so admission frees (or takes back) their places."""
    rows = Participant.objects.filter(study=study)
    rows.filter(excluded=True).exclude(pk__in=excluded).update(excluded=False)
    rows.filter(pk__in=excluded, excluded=False).update(excluded=True)


def _prolific_followed(study: Study, reading: RecruitmentReading, verdict: StoppingVerdict) -> str:
    if verdict.wanted is None:
        return ""
    places = prolific_places_for(study=study, usable=verdict.wanted, excluded=reading.excluded)
    linked, failed = _tried(study, lambda: prolific_places_follow(study=study, places=places),
                            failure="its Prolific places were not changed")
    if linked is None:
        return failed
    if linked.status == ProlificStudyStatus.STOPPED:
        return f"its Prolific study {linked.prolific_id} is stopped for good: recruiting there takes a new one"
    return f"{linked.places} places on Prolific"


def _acted(study: Study, reading: RecruitmentReading, verdict: StoppingVerdict) -> str:
    """Close the study or keep Prolific in step; the verdict as recorded, with what was done."""
    if study.status == StudyStatus.OPEN and verdict.done:
        closure = study_close(study=study, reason=verdict.reason)
        if verdict.target_met:
            study_notify(study=study, event=NotificationEvent.STUDY_TARGET_REACHED, detail=verdict.reason)
        return "; ".join(filter(None, [f"closed: {verdict.reason}", closure.prolific]))
    if study.status == StudyStatus.OPEN:
        return "; ".join(filter(None, [verdict.reason, _prolific_followed(study, reading, verdict)]))
    # Closed (by the rule or the researcher): Prolific must not send anyone either.
    return "; ".join(filter(None, [f"closed ({study.closed_reason or 'by the researcher'})",
                                   _prolific_stopped(study)]))


def recruitment_check(*, study: Study) -> Recruitment:
    """Judge the study's stopping rule now and act on it; returns what was recorded. A repeated or
    concurrent check is harmless: closing, stopping Prolific and setting places are conditional."""
    state, _ = Recruitment.objects.get_or_create(study=study)
    Recruitment.objects.filter(pk=state.pk).update(queued_at=None)  # later completions queue a new check
    reading = study_recruitment(study=study)
    _excluded_copy(study=study, excluded=reading.excluded)
    verdict = stopping_verdict(scores=reading.scores, usable=reading.usable, places=reading.places,
                               target=reading.target)
    study.refresh_from_db(fields=["status", "closed_reason", "closed_at"])
    state.verdict, state.checked_at = _acted(study, reading, verdict), timezone.now()
    state.save(update_fields=["verdict", "checked_at"])
    return state


def recruitment_check_by_id(*, study_id: int) -> Recruitment | None:
    """recruitment_check for the task, which has an id; None when the study was deleted meanwhile."""
    study = Study.objects.filter(pk=study_id).first()
    return None if study is None else recruitment_check(study=study)
