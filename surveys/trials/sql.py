"""Names for the few statements of the participant path written in SQL rather than through the ORM.

The busiest requests (an answer, an image's check) run the same two or three statements thousands of
times a minute, and compiling an ORM query cost more CPU than its round trip to the database. Those
statements are written once per process from the models' own table and column names, so that a
renamed field or table changes them with the models.
"""

import functools
import json
from collections.abc import Sequence

from django.db import connection, models


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def json_value(value):
    """A JSON column's value as the driver hands it back: parsed already (psycopg2), or text (SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def db_value(model: type[models.Model], field: str, value):
    """``value`` prepared for ``field``'s column as a save through the ORM would prepare it (JSON
    adapted, a datetime in the backend's form)."""
    return model._meta.get_field(field).get_db_prep_save(value, connection)


def run(cursor, name: str, sql: str, params: list) -> None:
    """Execute ``sql`` (written with %s placeholders) with ``params``. On PostgreSQL it is a statement
    prepared once per connection (PREPARE ``name``), then only executed: planning the answer's
    four-table read cost about twice its execution and round trip together (0.9 ms for the first plan,
    0.37 against 0.14 ms per call measured on 2 cores), and these statements run on every request of
    a wave. A prepared statement outlives transactions and rollbacks; a new connection (a restart, a
    retried request) prepares again. Elsewhere (SQLite) the SQL is simply executed."""
    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection
    prepared = getattr(connection, "_iris_prepared", None)
    if prepared is None or prepared[0] is not raw:  # a new connection knows no statement of ours
        prepared = connection._iris_prepared = (raw, set())
    if name not in prepared[1]:
        cursor.execute(f"PREPARE {name} AS {_numbered(sql)}")
        prepared[1].add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


def _numbered(sql: str) -> str:
    """%s placeholders as PREPARE's $1, $2, ..."""
    parts = sql.split("%s")
    return "".join(part + (f"${index}" if index < len(parts) else "") for index, part in enumerate(parts, start=1))


def columns(model: type[models.Model], alias: str) -> str:
    """Every column ``model`` loads, in its fields' order, as ``alias``.column: the select list that
    ``model_from_row`` reads."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in model._meta.concrete_fields)


def model_from_row(model: type[models.Model], values: Sequence) -> models.Model:
    """An instance of ``model`` from the values of its ``columns``, each converted from the driver's
    form as the ORM's own reads convert it (a JSON column parsed, SQLite's dates and booleans)."""
    names, converters = _loading(model)
    converted = list(values)
    for index, field_converters in converters:
        for convert, expression in field_converters:
            converted[index] = convert(converted[index], expression, connection)
    return model.from_db(connection.alias, names, converted)


@functools.cache
def _loading(model: type[models.Model]) -> tuple[list[str], list[tuple[int, list]]]:
    """(field attnames, [(index, [(converter, its expression), ...]), ...] for the fields that have any)."""
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        expression = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(expression) + field.get_db_converters(connection)
        if found:
            converters.append((index, [(convert, expression) for convert in found]))
    return [field.attname for field in fields], converters
