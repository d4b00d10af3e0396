"""Reads for the participant side, and the researcher's live count of sessions per condition."""

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from surveys.generation.models import Stimulus
from surveys.studies.models import Study, StudyTexts, StudyVersion
from surveys.trials.assignment import capped_places, square_rows
from surveys.trials.layout import TrialLayout
from surveys.trials.models import (
    ACTIVE_STATUSES,
    ENDED_EARLY,
    DataErasure,
    Participant,
    ParticipantStatus,
    Response,
    Trial,
    TrialKind,
)
from surveys.trials.sql import column, columns, db_value, json_value, model_from_row, run, table

BREAKS_PER_MAIN_BLOCK = 4  # a pause at each quarter (Feather)
# Shorter main blocks get no breaks: a pause every few trials would only interrupt.
MIN_TRIALS_FOR_BREAKS = 40


def participant_by_token(*, token: str) -> Participant:
    """The session with this token and its study (a 404 when none has it), in one prepared statement
    (sql.run): every page, consent, check and finish of a wave starts here, and compiling the ORM's
    join of the two wide rows cost more than reading them. Not the version: only the pages read its
    texts (participant_texts)."""
    with connection.cursor() as cursor:
        run(cursor, "iris_participant_by_token", _participant_query(), [token])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such session.")
    width = len(Participant._meta.concrete_fields)
    participant = model_from_row(Participant, row[:width])
    participant.study = model_from_row(Study, row[width:])
    return participant


def study_by_public_id(*, public_id: str) -> Study:
    """The study with this public id (a 404 when none has it), in one prepared statement: the start
    page and its button are every arrival's first two requests."""
    with connection.cursor() as cursor:
        run(cursor, "iris_study_by_public_id", _study_query(), [public_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such study.")
    return model_from_row(Study, row)


@functools.cache
def _study_query() -> str:
    return f"SELECT {columns(Study, 's')} FROM {table(Study)} s WHERE s.{column(Study, 'public_id')} = %s"


@functools.cache
def _participant_query() -> str:
    return (f"SELECT {columns(Participant, 'p')}, {columns(Study, 's')} FROM {table(Participant)} p "
            f"JOIN {table(Study)} s ON s.{column(Study, 'id')} = p.{column(Participant, 'study')} "
            f"WHERE p.{column(Participant, 'token')} = %s")


# A stimulus's file field for each role an image plays in a trial (Stimulus.png).
STIMULUS_FILE_FIELDS = {"target": "target_png", "seed": "seed_png", "iri": "iri_png"}


def trial_image_name(*, token: str, trial_public_id: str, slot: str) -> str | None:
    """The storage name of the image in one screen slot of one trial of the session with this token;
    None when there is no such session, trial, slot or file. Every trial fetches two or three images,
    so this is the busiest read of the participant path: two single-row reads in SQL written once
    (_image_queries), since compiling the same two ORM queries cost three times their round trips."""
    trial_layout, stimulus_files = _image_queries()
    with connection.cursor() as cursor:
        run(cursor, "iris_image_trial", trial_layout, [token, trial_public_id])
        row = cursor.fetchone()
        if row is None:
            return None
        ref = TrialLayout.from_dict(json_value(row[0])).image(slot)
        if ref is None:
            return None
        run(cursor, f"iris_image_{ref.role}", stimulus_files[ref.role], [ref.stimulus_id])
        row = cursor.fetchone()
    return (row[0] or None) if row else None


@functools.cache
def _image_queries() -> tuple[str, dict[str, str]]:
    """trial_image_name's SQL: the trial's layout found through the session's token (never another
    session's trial), and each role's file name."""
    trial_layout = (
        f"SELECT t.{column(Trial, 'layout')} FROM {table(Trial)} t "
        f"JOIN {table(Participant)} p ON p.{column(Participant, 'id')} = t.{column(Trial, 'participant')} "
        f"WHERE p.{column(Participant, 'token')} = %s AND t.{column(Trial, 'public_id')} = %s")
    stimulus_files = {role: f"SELECT {column(Stimulus, field)} FROM {table(Stimulus)} WHERE {column(Stimulus, 'id')} = %s"
                      for role, field in STIMULUS_FILE_FIELDS.items()}
    return trial_layout, stimulus_files


@dataclass(frozen=True)
class AnswerContext:
    """What storing one answer needs to know: the session, its study's paradigm, and the trial with
    the answer it already has (a retried post finds its answer here)."""
    participant_id: int
    status: str
    paradigm: str
    trial_id: int | None  # None: no such trial in this session
    kind: str | None
    layout: TrialLayout | None
    unavailable: bool
    answer_key: str | None  # the idempotency key of the answer stored already; None: not answered
    answer_correct: bool | None


def answer_context(*, token: str, trial_public_id: str) -> AnswerContext | None:
    """One query for an answer's whole context; None when no session has this token. Every answer of
    every participant runs it, so it is written in SQL (_answer_query): through the ORM, the session
    with its study and the trial with its answer were two queries whose compiling cost more CPU than
    everything else the answer does."""
    with connection.cursor() as cursor:
        run(cursor, "iris_answer_context", _answer_query(), [trial_public_id, token])
        row = cursor.fetchone()
    if row is None:
        return None
    participant_id, status, paradigm, trial_id, kind, layout, unavailable_at, answer_key, answer_correct = row
    return AnswerContext(participant_id=participant_id, status=status, paradigm=paradigm, trial_id=trial_id,
                         kind=kind, layout=TrialLayout.from_dict(json_value(layout)) if trial_id else None,
                         unavailable=unavailable_at is not None, answer_key=answer_key,
                         answer_correct=None if answer_correct is None else bool(answer_correct))


@functools.cache
def _answer_query() -> str:
    return (
        f"SELECT p.{column(Participant, 'id')}, p.{column(Participant, 'status')}, s.{column(Study, 'paradigm')}, "
        f"t.{column(Trial, 'id')}, t.{column(Trial, 'kind')}, t.{column(Trial, 'layout')}, "
        f"t.{column(Trial, 'unavailable_at')}, r.{column(Response, 'idempotency_key')}, r.{column(Response, 'correct')} "
        f"FROM {table(Participant)} p "
        f"JOIN {table(Study)} s ON s.{column(Study, 'id')} = p.{column(Participant, 'study')} "
        f"LEFT JOIN {table(Trial)} t ON t.{column(Trial, 'participant')} = p.{column(Participant, 'id')} "
        f"AND t.{column(Trial, 'public_id')} = %s "
        f"LEFT JOIN {table(Response)} r ON r.{column(Response, 'trial')} = t.{column(Trial, 'id')} "
        f"WHERE p.{column(Participant, 'token')} = %s")


def participant_texts(*, participant: Participant) -> StudyTexts:
    """What this participant reads: the texts of the version they were shown, whatever the study says
    now (the study's own only for a pilot session older than version records)."""
    if participant.study_version_id is None:
        return participant.study
    return _study_version(participant.study_version_id)


# A version is never changed once recorded (StudyVersion.save and .update refuse), and its id is never
# given to another row (PostgreSQL's sequences, SQLite's AUTOINCREMENT), so each process keeps the
# ones its pages read: a page load then costs no query for its texts.
@functools.lru_cache(maxsize=1024)
def _study_version(version_id: int) -> StudyVersion:
    return StudyVersion.objects.get(pk=version_id)


# Trials still to be answered: neither answered nor found unshowable (an image never loaded).
OPEN_TRIAL = Q(response__isnull=True, unavailable_at__isnull=True)


def trials_open(*, participant: Participant) -> QuerySet[Trial]:
    return participant.trials.filter(OPEN_TRIAL)


# The main block: main trials and the catch trials hidden among them (breaks divide them together).
MAIN_BLOCK_KINDS = (TrialKind.MAIN, TrialKind.CATCH)


@dataclass(frozen=True)
class TrialsOutline:
    """Where a session stands, for the runner's trial fetches: the session itself, the progress bar's
    counts, the trials that open a new quarter of the main block, and the next trials to show."""
    participant_id: int
    status: str
    paradigm: str
    stale: bool  # last seen long enough ago (TOUCH_EVERY_S) that this fetch should say it is alive
    settled: int  # answered, or found unshowable
    total: int
    breaks: frozenset[int]
    pending: list[Trial]


# A page load or trial fetch within this long of the session's last one writes nothing: the holds it
# keeps alive last minutes (UNCONSENTED_HOLD_S, IRIS_SESSION_TIMEOUT_S), and an UPDATE per request was
# the largest part of a participant page's cost.
TOUCH_EVERY_S = 10


def trials_outline(*, token: str, limit: int) -> TrialsOutline | None:
    """The session with this token and its next ``limit`` open trials; None when there is no such
    session. The runner's trial fetch is the busiest read after answers, so it is two statements in
    SQL: the session with every trial's (index, kind, open?), which gives the counts, the breaks and
    the gate in Python, then the next open trials themselves (none past an open gate trial: the main
    block waits until the gate is passed)."""
    seen_since = db_value(Participant, "last_seen_at", timezone.now() - timedelta(seconds=TOUCH_EVERY_S))
    with connection.cursor() as cursor:
        run(cursor, "iris_trials_outline", _outline_query(), [seen_since, token])
        rows = cursor.fetchall()
        if not rows:
            return None
        participant_id, status, paradigm, stale = rows[0][:4]
        trials = [(index, kind, bool(is_open)) for *_, index, kind, is_open in rows if index is not None]
        open_rows = [(index, kind) for index, kind, is_open in trials if is_open]
        open_gates = [index for index, kind in open_rows if kind == TrialKind.QUALIFICATION]
        next_indexes = [index for index, _ in open_rows if not open_gates or index <= open_gates[-1]][:limit]
        pending = []
        if next_indexes:
            run(cursor, f"iris_trials_next_{len(next_indexes)}", _pending_query(len(next_indexes)),
                [participant_id, *next_indexes])
            pending = [Trial(id=pk, participant_id=participant_id, public_id=public_id, index=index, kind=kind,
                             layout=json_value(layout)) for pk, public_id, index, kind, layout in cursor.fetchall()]
    main = [index for index, kind, _ in trials if kind in MAIN_BLOCK_KINDS]
    return TrialsOutline(participant_id=participant_id, status=status, paradigm=paradigm, stale=bool(stale),
                         settled=len(trials) - len(open_rows), total=len(trials), breaks=_quarter_starts(main),
                         pending=pending)


@functools.cache
def _outline_query() -> str:
    last_seen = f"p.{column(Participant, 'last_seen_at')}"
    return (
        f"SELECT p.{column(Participant, 'id')}, p.{column(Participant, 'status')}, s.{column(Study, 'paradigm')}, "
        f"({last_seen} IS NULL OR {last_seen} < %s), t.{column(Trial, 'index')}, t.{column(Trial, 'kind')}, "
        f"(r.{column(Response, 'id')} IS NULL AND t.{column(Trial, 'unavailable_at')} IS NULL) "
        f"FROM {table(Participant)} p "
        f"JOIN {table(Study)} s ON s.{column(Study, 'id')} = p.{column(Participant, 'study')} "
        f"LEFT JOIN {table(Trial)} t ON t.{column(Trial, 'participant')} = p.{column(Participant, 'id')} "
        f"LEFT JOIN {table(Response)} r ON r.{column(Response, 'trial')} = t.{column(Trial, 'id')} "
        f"WHERE p.{column(Participant, 'token')} = %s ORDER BY t.{column(Trial, 'index')}")


def _pending_query(count: int) -> str:
    indexes = ", ".join(["%s"] * count)
    return (f"SELECT {column(Trial, 'id')}, {column(Trial, 'public_id')}, {column(Trial, 'index')}, "
            f"{column(Trial, 'kind')}, {column(Trial, 'layout')} FROM {table(Trial)} "
            f"WHERE {column(Trial, 'participant')} = %s AND {column(Trial, 'index')} IN ({indexes}) "
            f"ORDER BY {column(Trial, 'index')}")


def trial_counts(*, participant: Participant) -> tuple[int, int]:
    """(settled, total) for the progress bar and the finish: settled trials are answered or were
    unshowable. One prepared statement: every runner page and every finish asks."""
    with connection.cursor() as cursor:
        run(cursor, "iris_trial_counts", _counts_query(), [participant.pk])
        total, still_open = cursor.fetchone()
    return total - (still_open or 0), total


@functools.cache
def _counts_query() -> str:
    still_open = f"r.{column(Response, 'id')} IS NULL AND t.{column(Trial, 'unavailable_at')} IS NULL"  # OPEN_TRIAL
    return (f"SELECT COUNT(*), SUM(CASE WHEN {still_open} THEN 1 ELSE 0 END) FROM {table(Trial)} t "
            f"LEFT JOIN {table(Response)} r ON r.{column(Response, 'trial')} = t.{column(Trial, 'id')} "
            f"WHERE t.{column(Trial, 'participant')} = %s")


def _quarter_starts(main: list[int]) -> frozenset[int]:
    """Of the main block's trial indexes in order, those that open its second, third and last quarter."""
    if len(main) < MIN_TRIALS_FOR_BREAKS:
        return frozenset()
    cuts = {round(len(main) * quarter / BREAKS_PER_MAIN_BLOCK) for quarter in range(1, BREAKS_PER_MAIN_BLOCK)}
    return frozenset(main[cut] for cut in cuts if 0 < cut < len(main))


@dataclass(frozen=True)
class ConditionProgress:
    label: str
    started: int  # every non-pilot session holding trials in this condition
    active: int  # started or consented, not yet finished
    completed: int
    ended_early: int  # declined, failed the gate, incompatible device, timed out


def study_progress(*, study: Study) -> list[ConditionProgress]:
    """Per condition, counted over sessions with main trials in it; pilot sessions left out."""
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
            active=sum(by_status[status] for status in ACTIVE_STATUSES),
            completed=by_status[ParticipantStatus.COMPLETED],
            ended_early=sum(by_status[status] for status in ENDED_EARLY)))
    return progress


def study_participation(*, study: Study) -> dict[str, int]:
    """Non-pilot sessions: started, completed, and ended early."""
    return study.participants.filter(is_pilot=False).aggregate(
        started=Count("pk"), completed=Count("pk", filter=Q(status=ParticipantStatus.COMPLETED)),
        ended_early=Count("pk", filter=Q(status__in=ENDED_EARLY)))


def study_places(*, study: Study) -> int | None:
    """How many participants the design's cap admits, in whole Latin squares; None without a cap."""
    design = study.design_spec
    return capped_places(cap=design.participants_per_condition,
                         rows=square_rows(design=design, conditions=study.conditions.count()))


def participants_of(*, study: Study) -> QuerySet[Participant]:
    """A study's participants (pilots too, flagged), with their trial and answer counts."""
    return (study.participants.select_related("study_version")
            .annotate(trial_count=Count("trials"), answered=Count("trials__response")).order_by("pk"))


def erasures_of(*, study: Study) -> QuerySet[DataErasure]:
    """The study's record of withdrawals, erasures and retention runs, oldest first."""
    return DataErasure.objects.filter(study=study).select_related("author").order_by("created_at", "pk")


def responses_of(*, participant: Participant) -> QuerySet[Response]:
    """One participant's answers in the order of their trials."""
    return (Response.objects.filter(trial__participant=participant)
            .select_related("trial", "trial__item").order_by("trial__index"))


@dataclass(frozen=True)
class ViewingSummary:
    """The spread of one calibration measure over a study's participants (docs/method.md §2)."""

    measure: str
    participants: int
    low: float | None  # the smallest value
    quartiles: tuple[float, float, float] | None  # 25th, 50th and 75th percentiles
    high: float | None


def study_viewing(*, study: Study) -> tuple[list[ViewingSummary], int]:
    """Viewing distance (cm) and pixels per degree over the non-pilot participants whose calibration
    succeeded, and how many calibrations failed or were skipped."""
    stored = [info["viewing"] for info in study.participants.filter(is_pilot=False, client_info__has_key="viewing")
              .values_list("client_info", flat=True)]
    good = [v for v in stored if isinstance(v, dict) and v.get("calibrated")]
    summaries = []
    for measure, values in (("viewing distance (cm)", [v["distance_mm"] / 10 for v in good]),
                            ("pixels per degree", [v["px_per_deg"] for v in good])):
        spread = np.percentile(values, [25, 50, 75]).tolist() if values else None
        summaries.append(ViewingSummary(measure, len(values), min(values, default=None),
                                        tuple(spread) if spread else None, max(values, default=None)))
    return summaries, len(stored) - len(good)
