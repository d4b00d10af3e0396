"""Writes for the participant side: entering a study, consent, responses, completion."""

import functools
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from surveys.common.specs import SpecError
from surveys.generation.models import NotificationEvent
from surveys.studies.models import Study, StudyStatus
from surveys.studies.notifications import study_notify
from surveys.studies.paradigms import PARADIGMS, RATING_MAX, RATING_MIN
from surveys.studies.questions import answers_check
from surveys.trials import admission
from surveys.trials.assignment import (
    StudyPieces,
    capped_places,
    study_pieces,
    trials_build,
)
from surveys.trials.layout import TrialLayout
from surveys.trials.models import ACTIVE_STATUSES, Participant, ParticipantStatus, Response, Trial, TrialKind
from surveys.trials.payloads import rt_checked
from surveys.trials.selectors import TOUCH_EVERY_S, answer_context, trial_counts, trials_open
from surveys.trials.signals import participant_completed
from surveys.trials.sql import column, db_value, run, table
from surveys.trials.viewing import Viewing

logger = logging.getLogger(__name__)


class StudyClosed(Exception):
    """The study admits nobody new."""


class TrialNotFound(Exception):
    """The trial does not exist or is not this participant's."""


class ResponseRejected(Exception):
    """The response cannot be recorded as sent; nothing was stored."""

    def __init__(self, message: str, *, status: int = 400):
        super().__init__(message)
        self.status = status


class StudyFull(StudyClosed):
    """Every place in the design is taken by a completed or recently active session."""


class SessionElsewhere(Exception):
    """This recruitment id already has a session, and the request does not hold its secret (a
    returning participant on a new device, or someone who knows their platform id)."""

    def __init__(self, source: str):
        super().__init__(source)
        self.source = source


def participant_enter(*, study: Study, source: str, recruitment_id: str, recruitment_data: dict,
                      is_pilot: bool = False, resume_token: str = "", arrival: str = "") -> Participant:
    """The participant for this recruitment id: a returning one resumes, a new one gets a frozen design.

    Resuming needs the session's own secret, never the recruitment id alone (a Prolific or MTurk id
    is no secret): its token (which the browser that started it remembers) or the arrival key of
    the start page that created it (the same press of the button, sent twice). Anyone else gets
    SessionElsewhere. Admission and the Latin-square row are decided under a lock on the study row,
    so that people who arrive at the same moment are counted one after another and balance (and
    the cap) holds. The lock is the one place a wave of arrivals queues, so it is held only for the
    decision and the session's row, in prepared statements (admission.py); the study's pieces are
    read before it and the trial list is drawn and stored after it. From the first session's row on
    the study's design is frozen, so what is read outside the lock is what the lock would have read.
    """
    existing = admission.participant_for_recruitment(study_id=study.pk, recruitment_id=recruitment_id)
    if existing:
        return _with_trials(_resumed(_participant(existing), resume_token=resume_token, arrival=arrival))
    if study.status != StudyStatus.OPEN and not is_pilot:
        raise StudyClosed(study.name)
    pieces = study_pieces(study=study)
    try:
        with transaction.atomic():
            locked = admission.study_lock(study_id=study.pk)
            if locked is None:
                raise StudyClosed(study.name)
            design_version, status = locked
            if design_version != study.design_version:  # edited since this request read it: read it again
                study.refresh_from_db()
                pieces = study_pieces(study=study)
            if status != StudyStatus.OPEN and not is_pilot:
                raise StudyClosed(study.name)
            existing = admission.participant_for_recruitment(study_id=study.pk, recruitment_id=recruitment_id)
            if existing:
                return _with_trials(_resumed(_participant(existing), resume_token=resume_token, arrival=arrival))
            row = design_row_assign(study=study, rows=pieces.rows, is_pilot=is_pilot)
            participant = Participant.objects.create(
                study=study, source=source, recruitment_id=recruitment_id, recruitment_data=recruitment_data,
                is_pilot=is_pilot, design_row=row, arrival_key=arrival, last_seen_at=timezone.now(),
                study_version_id=admission.version_id(study_id=study.pk, number=design_version))
    except IntegrityError:  # the same arrival twice at once, e.g. a double click on the start button
        existing = admission.participant_for_recruitment(study_id=study.pk, recruitment_id=recruitment_id)
        return _with_trials(_resumed(_participant(existing), resume_token=resume_token, arrival=arrival))
    design_freeze(participant=participant, pieces=pieces)
    return participant


def _participant(participant_id: int) -> Participant:
    return Participant.objects.select_related("study").get(pk=participant_id)


def _with_trials(participant: Participant) -> Participant:
    """A resumed session whose trial list was never stored (the connection dropped between its row
    and its trials) gets it now; one that has it is returned as it is."""
    if not participant.trials.exists():
        design_freeze(participant=participant, pieces=study_pieces(study=participant.study))
    return participant


def _resumed(existing: Participant, *, resume_token: str, arrival: str) -> Participant:
    """The existing session, when the request holds its secret; else SessionElsewhere."""
    if resume_token and secrets.compare_digest(existing.token.encode(), resume_token.encode()):
        return existing
    if arrival and existing.arrival_key and secrets.compare_digest(existing.arrival_key.encode(), arrival.encode()):
        return existing
    raise SessionElsewhere(existing.source)


# A place held without consent is given up after this long (reading the consent page takes a
# minute or two): clicks that never consent cannot keep a capped study full. The person keeps
# their page; agreeing later takes a place again if one is free (participant_consent).
UNCONSENTED_HOLD_S = 5 * 60


def sessions_expire(*, study: Study) -> int:
    """Mark silent sessions timed out so their places free up: consented ones after
    IRIS_SESSION_TIMEOUT_S, unconsented ones after UNCONSENTED_HOLD_S."""
    now = timezone.now()
    return admission.sessions_expire(study_id=study.pk,
                                     consented_before=now - timedelta(seconds=settings.IRIS_SESSION_TIMEOUT_S),
                                     started_before=now - timedelta(seconds=UNCONSENTED_HOLD_S))


def design_row_assign(*, study: Study, rows: int, is_pilot: bool) -> int:
    """The least-filled Latin-square row, counting completed and still-active sessions (call under the
    study lock). Raises StudyFull when participants_per_condition places are all taken."""
    counts = _row_counts(study=study, rows=rows)
    if not is_pilot and _is_full(study=study, counts=counts):
        raise StudyFull(study.name)
    return min(range(rows), key=lambda row: counts[row])


def _row_counts(*, study: Study, rows: int) -> list[int]:
    """Places taken per Latin-square row, once silent sessions have given theirs up. An excluded
    participant's place is free again, in their row, so the usable data stay balanced."""
    sessions_expire(study=study)
    taken = admission.places_taken(study_id=study.pk)
    return [taken.get(row, 0) for row in range(rows)]


def _is_full(*, study: Study, counts: list[int]) -> bool:
    places = capped_places(cap=study.design_spec.participants_per_condition, rows=len(counts))
    return places is not None and sum(counts) >= places


def place_reclaim(*, participant: Participant) -> Participant:
    """A session that gave up its place unconsented (UNCONSENTED_HOLD_S) takes one again, under the
    study lock like any arrival; StudyFull when none is free."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=participant.study_id)
        counts = _row_counts(study=study, rows=study_pieces(study=study).rows)
        if not participant.is_pilot and _is_full(study=study, counts=counts):
            raise StudyFull(study.name)
        Participant.objects.filter(pk=participant.pk, status=ParticipantStatus.TIMED_OUT,
                                   consented_at__isnull=True).update(status=ParticipantStatus.STARTED,
                                                                     last_seen_at=timezone.now())
    participant.refresh_from_db()
    return participant


def design_freeze(*, participant: Participant, pieces: StudyPieces) -> list[Trial]:
    """Draw this participant's trial list (practice, gate, shuffled main block with catch trials and
    counterbalanced sides) and store it; it never changes afterwards."""
    rng = random.Random(secrets.randbits(64))
    trials = trials_build(participant=participant, pieces=pieces, row=participant.design_row or 0, rng=rng)
    try:
        with transaction.atomic():  # all of the list or none of it
            return Trial.objects.bulk_create(trials)
    except IntegrityError:  # a concurrent retry of the same session stored its list first: that one stands
        return list(participant.trials.order_by("index"))


def participant_consent(*, participant: Participant, agreed: bool, client_info: dict) -> Participant:
    """Agree or decline, once. A session whose unconsented place lapsed takes one again to agree
    (StudyFull when the study filled up meanwhile)."""
    if agreed and participant.holds_lapsed_place:
        participant = place_reclaim(participant=participant)
    if participant.status != ParticipantStatus.STARTED:
        return participant
    participant.status = ParticipantStatus.CONSENTED if agreed else ParticipantStatus.DECLINED
    participant.consented_at = timezone.now() if agreed else None
    participant.client_info = client_info
    participant.save(update_fields=["status", "consented_at", "client_info"])
    return participant


class SessionNotFound(Exception):
    """No session has this token."""


@dataclass(frozen=True)
class RecordedAnswer:
    """What the page is told about an answer: stored now or found stored (a retry), and, for a
    practice trial only, whether it was right."""
    created: bool
    kind: str
    correct: bool | None


def response_record(*, token: str, trial_public_id: str, choice: object, rt_ms: object, idempotency_key: str,
                    client_data: dict, rating: object = None) -> RecordedAnswer:
    """Store one response of the session with this token, or find the one a retry already stored.

    `choice` is the index of the chosen option (or category); similarity trials send `rating` (1-7)
    instead. Correctness is decided here, from the trial's server-only layout. Every answer of a wave
    comes through here, so it costs two statements: one read of its whole context (answer_context)
    and one INSERT that a concurrent retry's INSERT cannot duplicate (_answer_insert)."""
    context = answer_context(token=token, trial_public_id=trial_public_id)
    if context is None:
        raise SessionNotFound(token)
    if context.trial_id is None:
        raise TrialNotFound(trial_public_id)
    key = idempotency_key[:64]
    if context.answer_key is not None:
        return _replayed(context.answer_key, context.answer_correct, kind=context.kind, idempotency_key=key)
    if context.status != ParticipantStatus.CONSENTED:
        raise ResponseRejected(f"This session is {context.status}; it takes no responses.", status=409)
    if context.unavailable:
        raise ResponseRejected("This trial could not be shown; it takes no answer.", status=409)
    traits, layout = PARADIGMS[context.paradigm], context.layout
    if traits.rated:
        choice, rating = None, _checked_rating(rating)
    else:
        choice, rating = _checked_choice(choice, layout=layout), None
    rt_ms = _checked_rt(rt_ms)
    correct = layout.is_correct(choice=choice, rating=rating)
    stored = _answer_insert(trial_id=context.trial_id, idempotency_key=key, choice=choice, rating=rating,
                            chose_target=correct if traits.target_chosen else None, correct=correct, rt_ms=rt_ms,
                            client_data=client_data)
    if not stored:  # a concurrent retry of the same answer stored it first
        earlier = Response.objects.values_list("idempotency_key", "correct").get(trial_id=context.trial_id)
        return _replayed(*earlier, kind=context.kind, idempotency_key=key)
    if context.kind == TrialKind.QUALIFICATION:
        gate_evaluate(participant=Participant.objects.select_related("study").get(pk=context.participant_id))
    return RecordedAnswer(created=True, kind=context.kind, correct=correct)


# The INSERT's columns, in the order _answer_insert gives their values.
ANSWER_COLUMNS = ("trial", "idempotency_key", "choice", "rating", "chose_target", "correct", "rt_ms", "client_data",
                  "created_at")


def _answer_insert(*, trial_id: int, idempotency_key: str, choice, rating, chose_target, correct, rt_ms: float,
                   client_data: dict) -> bool:
    """One INSERT, atomic by itself (no transaction around it: BEGIN and COMMIT would be two more round
    trips). The trial's one-answer constraint decides a race between two retries of the same answer:
    the second stores nothing and raises nothing, so a caller's transaction is never broken by it.
    True when this call stored the answer."""
    values = (trial_id, idempotency_key, choice, rating, chose_target, correct, rt_ms, client_data, timezone.now())
    params = [db_value(Response, name, value) for name, value in zip(ANSWER_COLUMNS, values, strict=True)]
    with connection.cursor() as cursor:
        run(cursor, "iris_answer_insert", _answer_insert_sql(), params)
        return cursor.fetchone() is not None


@functools.cache
def _answer_insert_sql() -> str:
    columns = ", ".join(column(Response, name) for name in ANSWER_COLUMNS)
    places = ", ".join(["%s"] * len(ANSWER_COLUMNS))
    return (f"INSERT INTO {table(Response)} ({columns}) VALUES ({places}) "
            f"ON CONFLICT ({column(Response, 'trial')}) DO NOTHING RETURNING {column(Response, 'id')}")


# A session may lose this share of its trials (and at least a few) to images that would not load
# before it ends as an incompatible device: a bot must not finish a study by calling every trial unshowable.
MAX_UNAVAILABLE_SHARE = 0.1
MIN_UNAVAILABLE_ALLOWED = 3


def trial_mark_unavailable(*, participant: Participant, trial_public_id: str) -> Trial:
    """The browser could not load this trial's images, even after retrying, so it never showed it:
    the trial is left out of the session (it takes no answer, and nothing scores it). Idempotent."""
    trial = Trial.objects.filter(public_id=trial_public_id, participant=participant).first()
    if trial is None:
        raise TrialNotFound(trial_public_id)
    if trial.unavailable_at:
        return trial
    if participant.status != ParticipantStatus.CONSENTED:
        raise ResponseRejected(f"This session is {participant.status}.", status=409)
    marked = Trial.objects.filter(pk=trial.pk, response__isnull=True, unavailable_at__isnull=True).update(
        unavailable_at=timezone.now())
    if not marked:
        raise ResponseRejected("This trial was already answered.", status=409)
    logger.warning("Trial %s of participant %s was not shown: an image would not load.", trial.public_id,
                   participant.pk)
    if trial.kind == TrialKind.QUALIFICATION:
        gate_evaluate(participant=participant)
    _unavailable_limit_check(participant=participant)
    trial.refresh_from_db()
    return trial


def _unavailable_limit_check(*, participant: Participant) -> None:
    unavailable = participant.trials.filter(unavailable_at__isnull=False).count()
    if unavailable > max(MIN_UNAVAILABLE_ALLOWED, MAX_UNAVAILABLE_SHARE * participant.trials.count()):
        Participant.objects.filter(pk=participant.pk, status=ParticipantStatus.CONSENTED).update(
            status=ParticipantStatus.INCOMPATIBLE)


def gate_evaluate(*, participant: Participant) -> Participant:
    """Once every gate trial is answered, a participant with too few right leaves the study."""
    gate = participant.study.design_spec.gate
    trials = participant.trials.filter(kind=TrialKind.QUALIFICATION)
    if not gate or trials_open(participant=participant).filter(kind=TrialKind.QUALIFICATION).exists():
        return participant
    right = trials.filter(response__correct=True).count()
    if right < gate.pass_mark:
        Participant.objects.filter(pk=participant.pk, status=ParticipantStatus.CONSENTED).update(
            status=ParticipantStatus.FAILED_GATE)
        participant.refresh_from_db()
    return participant


def _replayed(stored_key: str, correct: bool | None, *, kind: str, idempotency_key: str) -> RecordedAnswer:
    """The answer stored already, when this post is a retry of it (the same key); 409 otherwise."""
    if stored_key != idempotency_key:
        raise ResponseRejected("This trial was already answered.", status=409)
    return RecordedAnswer(created=False, kind=kind, correct=correct)


def _checked_choice(choice: object, *, layout: TrialLayout) -> int:
    if isinstance(choice, bool) or not isinstance(choice, int) or not 0 <= choice < layout.choices:
        raise ResponseRejected(f"choice must be a whole number from 0 to {layout.choices - 1}.")
    return choice


def _checked_rating(rating: object) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
        raise ResponseRejected(f"rating must be a whole number from {RATING_MIN} to {RATING_MAX}.")
    return rating


def _checked_rt(rt_ms: object) -> float:
    try:
        return rt_checked(rt_ms)
    except SpecError as error:
        raise ResponseRejected(error.messages[0]) from None


def participant_touch(*, participant: Participant) -> None:
    """The session is alive: it keeps its place in the design (written at most every TOUCH_EVERY_S)."""
    now = timezone.now()
    if participant.last_seen_at is not None and now - participant.last_seen_at < timedelta(seconds=TOUCH_EVERY_S):
        return
    session_touch(participant_id=participant.pk)


def session_touch(*, participant_id: int) -> None:
    Participant.objects.filter(pk=participant_id).update(last_seen_at=timezone.now())


def participant_device(*, participant: Participant, compatible: bool, data: dict) -> Participant:
    """Store the browser check's measurements; an incompatible device ends the session (its own code)."""
    _client_info_set(participant=participant, key="device", value=data)
    if not compatible:
        Participant.objects.filter(pk=participant.pk, status__in=ACTIVE_STATUSES).update(
            status=ParticipantStatus.INCOMPATIBLE)
        participant.refresh_from_db()
    return participant


def participant_viewing_record(*, participant: Participant, viewing: Viewing) -> dict:
    """Store the participant's calibration (the latest one counts: the page may redo it) and return it
    with the image width the study's degrees come to, in CSS pixels (None: the fallback size)."""
    stored = viewing.to_dict()
    _client_info_set(participant=participant, key="viewing", value=stored)
    return stored


def participant_answers_record(*, participant: Participant, phase: str, answers: dict) -> dict:
    """Store the participant's answers to the study's questions of one phase ("before" or "after"),
    checked against those questions (a SpecError naming the question: nothing stored). Sent again,
    the latest answers count. Only a session in progress answers (ResponseRejected, 409)."""
    design = participant.study.design_spec
    questions = design.questions_before if phase == "before" else design.questions_after
    checked = answers_check(questions=questions, answers=answers)
    with transaction.atomic():
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if locked.status != ParticipantStatus.CONSENTED:
            raise ResponseRejected(f"This session is {locked.status}.", status=409)
        locked.answers = {**locked.answers, phase: checked}
        locked.save(update_fields=["answers"])
    participant.answers = locked.answers
    return checked


def _client_info_set(*, participant: Participant, key: str, value) -> None:
    """Set one key of client_info under a row lock: the page posts the device check and the
    calibration close together, and each must not write back a copy without the other."""
    with transaction.atomic():
        info = Participant.objects.select_for_update().values_list("client_info", flat=True).get(pk=participant.pk)
        participant.client_info = {**info, key: value}
        Participant.objects.filter(pk=participant.pk).update(client_info=participant.client_info)


def participant_finish(*, participant: Participant) -> Participant:
    """Mark the session complete once every trial has a response."""
    if participant.status == ParticipantStatus.COMPLETED:
        return participant
    if participant.status != ParticipantStatus.CONSENTED:
        raise ResponseRejected(f"This session is {participant.status}.", status=409)
    settled, total = trial_counts(participant=participant)
    if settled < total:
        raise ResponseRejected("Some trials are not answered yet.", status=409)
    now = timezone.now()
    completed = Participant.objects.filter(pk=participant.pk, status=ParticipantStatus.CONSENTED).update(
        status=ParticipantStatus.COMPLETED, completed_at=now)
    if completed:
        participant.status, participant.completed_at = ParticipantStatus.COMPLETED, now
    else:  # another request ended it first: read how
        participant.refresh_from_db(fields=["status", "completed_at"])
    if completed:  # this call completed it: announced once, however often the page sends finish
        participant_completed.send(sender=Participant, participant=participant)
    if completed and not participant.is_pilot:
        _filled_notify(study=participant.study)
    return participant


def _filled_notify(*, study: Study) -> None:
    """Tell the researcher once as many participants completed the study as it takes."""
    wanted = study.design_spec.participants_per_condition
    if not wanted:  # no cap: nothing to fill
        return
    # Usable participants: those excluded by the study's rules are replaced (the stopping rule).
    done = Participant.objects.filter(study=study, is_pilot=False, excluded=False,
                                      status=ParticipantStatus.COMPLETED).count()
    # Places are at least ``wanted``: below it, the study's pieces need not be loaded to count its rows.
    if done >= wanted and done >= capped_places(cap=wanted, rows=study_pieces(study=study).rows):
        study_notify(study=study, event=NotificationEvent.STUDY_FILLED,
                     detail=f"{done} participants completed it; it admits nobody else.")
