"""The responses of a study as numpy columns: one query, no model instances (it must scale to 1M rows).

Only completed, non-pilot participants are read: pilot sessions never count (docs/method.md §3).
"""

import io
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import BigIntegerField, Case, F, FloatField, IntegerField, Value, When
from django.db.models.functions import Cast, Coalesce

from surveys.studies.models import Study
from surveys.trials.models import ParticipantStatus, Response, TrialKind

KIND_CODES = {TrialKind.MAIN: 0, TrialKind.PRACTICE: 1, TrialKind.CATCH: 2, TrialKind.QUALIFICATION: 3}
MAIN, PRACTICE, CATCH, QUALIFICATION = 0, 1, 2, 3
COLUMNS = ("participant", "kind", "condition", "item", "correct", "choice", "rating", "rt_ms", "focus_lost")


@dataclass(frozen=True)
class ResponseTable:
    """Equal-length columns, one entry per response. Missing values: -1 for ids, NaN for numbers."""

    participant: np.ndarray
    kind: np.ndarray
    condition: np.ndarray
    item: np.ndarray
    correct: np.ndarray
    choice: np.ndarray
    rating: np.ndarray
    rt_ms: np.ndarray
    # 1 where the participant left the page, the window or full screen during the trial, else 0;
    # None for a table built without it (the attention rule then catches nobody).
    focus_lost: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.participant)

    def where(self, keep: np.ndarray) -> "ResponseTable":
        return ResponseTable(**{name: None if getattr(self, name) is None else getattr(self, name)[keep]
                                for name in COLUMNS})


def table_from_rows(rows: np.ndarray) -> ResponseTable:
    """rows: (n, 9) numbers in COLUMNS order, or (n, 8) without focus_lost; NULL read as NaN or as the
    -1 sentinel."""
    rows = np.asarray(rows, dtype=float)
    rows = rows.reshape(-1, rows.shape[-1] if rows.ndim == 2 and rows.shape[-1] < len(COLUMNS) else len(COLUMNS))
    ids = [np.nan_to_num(rows[:, i], nan=-1).astype(np.int64) for i in range(4)]
    # correct, choice and rating are never negative: -1 is the query's NULL.
    answers = [np.where(rows[:, i] < 0, np.nan, rows[:, i]) for i in (4, 5, 6)]
    focus_lost = rows[:, 8].astype(np.int64) if rows.shape[1] > 8 else None
    return ResponseTable(*ids, *answers, rows[:, 7].copy(), focus_lost)


def _kind_code():
    return Case(*(When(trial__kind=kind, then=Value(code)) for kind, code in KIND_CODES.items()),
                default=Value(-1), output_field=IntegerField())


def _bigint(expression):
    """A NOT NULL bigint (-1 for NULL): every row of the binary COPY below then has the same layout."""
    return Cast(Coalesce(expression, Value(-1)), BigIntegerField())


def response_rows_queryset(*, study: Study):
    """The queryset behind response_table, in COLUMNS order: seven bigints, a double and a bigint."""
    return (Response.objects
            .filter(trial__participant__study=study, trial__participant__status=ParticipantStatus.COMPLETED,
                    trial__participant__is_pilot=False)
            .annotate(c_participant=_bigint(F("trial__participant_id")), c_kind=_bigint(_kind_code()),
                      c_condition=_bigint(F("trial__condition_id")), c_item=_bigint(F("trial__item_id")),
                      c_correct=_bigint(Cast("correct", IntegerField())),
                      c_choice=_bigint(F("choice")), c_rating=_bigint(F("rating")),
                      c_rt=Cast("rt_ms", FloatField()),
                      c_focus=_bigint(Case(When(client_data__focus_lost=True, then=Value(1)), default=Value(0),
                                           output_field=IntegerField())))
            .values_list("c_participant", "c_kind", "c_condition", "c_item", "c_correct", "c_choice", "c_rating",
                         "c_rt", "c_focus"))


# PostgreSQL's binary COPY: 11-byte signature, int32 flags, int32 header-extension length, then per
# row an int16 field count and per field an int32 length and the big-endian value; an int16 -1 ends it.
_COPY_HEADER = 19
_COPY_ROW = np.dtype([("fields", ">i2")] + [
    item for i in range(len(COLUMNS)) for item in ((f"n{i}", ">i4"), (f"v{i}", ">f8" if i == 7 else ">i8"))])


def _copy_binary(cursor, query: str) -> np.ndarray:
    """The rows of a query through binary COPY, parsed by numpy without a Python object per value."""
    buffer = io.BytesIO()
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT binary)", buffer)
    data = buffer.getbuffer()
    start = _COPY_HEADER + int.from_bytes(data[15:19], "big")
    rows = np.frombuffer(data[start:len(data) - 2], dtype=_COPY_ROW)
    return np.column_stack([rows[f"v{i}"].astype(float) for i in range(len(COLUMNS))])


def _fetch_rows(sql: str, params) -> np.ndarray:
    """The query's rows as an (n, 9) float array: binary COPY on PostgreSQL (about ten times faster than a
    Python tuple per row), a plain fetch elsewhere."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return np.array(cursor.fetchall(), dtype=float).reshape(-1, len(COLUMNS))
        return _copy_binary(cursor, cursor.mogrify(sql, params).decode())


def response_table(*, study: Study) -> ResponseTable:
    """All responses of the study's completed, non-pilot participants, straight from one SQL query."""
    sql, params = response_rows_queryset(study=study).query.sql_with_params()
    return table_from_rows(_fetch_rows(sql, params))
