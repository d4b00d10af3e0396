"""Names for the few statements of the participant path written in SQL rather than through the ORM.

The busiest requests (an answer, an image's check) run the same two or three statements thousands of
times a minute, and compiling an ORM query cost more CPU than its round trip to the database. Those
statements are written once per process from the models' own table and column names, so that a
renamed field or table changes them with the models.
"""

import json

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
