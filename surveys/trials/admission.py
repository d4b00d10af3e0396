"""The statements of a participant's arrival (services.participant_enter), written in SQL once per process.

A wave of a published study is hundreds of arrivals in a minute, each of them queued on the study's
row lock while it is decided. Through the ORM an arrival ran about ten statements, and compiling each
cost more CPU than running it; most of them ran under the lock, so every arrival of the wave waited
for the others' compiling too. Here they are prepared statements (sql.run) named after what they
read, built from the models' own table and column names (sql.py).
"""

import functools
from datetime import datetime

from django.db import connection

from surveys.generation.models import Stimulus, TargetImage
from surveys.studies.models import Condition, Study, StudyItem, StudyVersion
from surveys.trials.models import ACTIVE_STATUSES, Participant, ParticipantStatus
from surveys.trials.sql import column, db_value, run, table


def participant_for_recruitment(*, study_id: int, recruitment_id: str) -> int | None:
    """The id of the session this recruitment id already has in this study, or None."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_existing", _existing_query(), [study_id, recruitment_id])
        row = cursor.fetchone()
    return row[0] if row else None


def study_lock(*, study_id: int) -> tuple[int, str] | None:
    """Lock the study's row for this transaction (arrivals and edits queue on it); its current
    (design_version, status), or None when the study is gone. SQLite, which has no row locks, writes
    one transaction at a time anyway."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_lock", _lock_query(), [study_id])
        return cursor.fetchone()


def sessions_expire(*, study_id: int, consented_before: datetime, started_before: datetime) -> int:
    """Mark this study's silent sessions timed out: consented ones last seen before
    ``consented_before``, unconsented ones before ``started_before``. How many."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_expire", _expire_query(),
            [ParticipantStatus.TIMED_OUT, study_id, ParticipantStatus.CONSENTED,
             db_value(Participant, "last_seen_at", consented_before), ParticipantStatus.STARTED,
             db_value(Participant, "last_seen_at", started_before)])
        return cursor.rowcount


def places_taken(*, study_id: int) -> dict[int, int]:
    """{Latin-square row: sessions holding a place in it}: completed and not excluded, or active;
    pilots never count. Counted by the database, one row back per Latin-square row."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_places", _places_query(),
            [study_id, ParticipantStatus.COMPLETED, *ACTIVE_STATUSES])
        return dict(cursor.fetchall())


def version_id(*, study_id: int, number: int) -> int:
    """The id of the study's version with this number (a participant's study_version)."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_version", _version_query(), [study_id, number])
        return cursor.fetchone()[0]


def draw_items(*, study_id: int) -> list[tuple[int, int, int, int, int, str]]:
    """The study's items in id order as the draw reads them: (item, condition, stimulus, job, target,
    target's category)."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_items", _items_query(), [study_id])
        return cursor.fetchall()


def condition_ids(*, study_id: int) -> list[int]:
    """The study's conditions' ids, in order."""
    with connection.cursor() as cursor:
        run(cursor, "iris_arrival_conditions", _conditions_query(), [study_id])
        return [row[0] for row in cursor.fetchall()]


@functools.cache
def _existing_query() -> str:
    return (f"SELECT {column(Participant, 'id')} FROM {table(Participant)} "
            f"WHERE {column(Participant, 'study')} = %s AND {column(Participant, 'recruitment_id')} = %s")


@functools.cache
def _lock_query() -> str:
    locking = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (f"SELECT {column(Study, 'design_version')}, {column(Study, 'status')} FROM {table(Study)} "
            f"WHERE {column(Study, 'id')} = %s{locking}")


@functools.cache
def _expire_query() -> str:
    status, seen = column(Participant, "status"), column(Participant, "last_seen_at")
    return (f"UPDATE {table(Participant)} SET {status} = %s WHERE {column(Participant, 'study')} = %s "
            f"AND (({status} = %s AND {seen} < %s) OR ({status} = %s AND {seen} < %s))")


@functools.cache
def _places_query() -> str:
    row, status = column(Participant, "design_row"), column(Participant, "status")
    active = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    return (f"SELECT {row}, COUNT(*) FROM {table(Participant)} "
            f"WHERE {column(Participant, 'study')} = %s AND NOT {column(Participant, 'is_pilot')} "
            f"AND {row} IS NOT NULL "
            f"AND (({status} = %s AND NOT {column(Participant, 'excluded')}) OR {status} IN ({active})) "
            f"GROUP BY {row}")


@functools.cache
def _version_query() -> str:
    return (f"SELECT {column(StudyVersion, 'id')} FROM {table(StudyVersion)} "
            f"WHERE {column(StudyVersion, 'study')} = %s AND {column(StudyVersion, 'number')} = %s")


@functools.cache
def _items_query() -> str:
    return (f"SELECT i.{column(StudyItem, 'id')}, i.{column(StudyItem, 'condition')}, i.{column(StudyItem, 'stimulus')}, "
            f"s.{column(Stimulus, 'job')}, s.{column(Stimulus, 'target')}, t.{column(TargetImage, 'category')} "
            f"FROM {table(StudyItem)} i "
            f"JOIN {table(Stimulus)} s ON s.{column(Stimulus, 'id')} = i.{column(StudyItem, 'stimulus')} "
            f"JOIN {table(TargetImage)} t ON t.{column(TargetImage, 'id')} = s.{column(Stimulus, 'target')} "
            f"WHERE i.{column(StudyItem, 'study')} = %s ORDER BY i.{column(StudyItem, 'id')}")


@functools.cache
def _conditions_query() -> str:
    return (f"SELECT {column(Condition, 'id')} FROM {table(Condition)} WHERE {column(Condition, 'study')} = %s "
            f"ORDER BY {column(Condition, 'id')}")
