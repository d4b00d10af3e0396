"""The participant path's few SQL statements are prepared once per PostgreSQL connection and then only
executed (surveys/trials/sql.py): planning cost more than running them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.trials.sql import _numbered, run


def test_placeholders_are_numbered_for_prepare():
    assert _numbered("a = %s AND b IN (%s, %s)") == "a = $1 AND b IN ($2, $3)"
    assert _numbered("SELECT 1") == "SELECT 1"


@pytest.mark.django_db(transaction=True)  # no test transaction around it: the connection is closed
def test_a_statement_is_prepared_once_per_connection_and_again_on_a_new_one():
    if connection.vendor != "postgresql":
        pytest.skip("PREPARE is PostgreSQL's")

    def twice() -> tuple[list, list[str]]:
        with CaptureQueriesContext(connection) as sent, connection.cursor() as cursor:
            rows = []
            for value in (1, 2):
                run(cursor, "iris_test_double", "SELECT %s * 2", [value])
                rows.append(cursor.fetchone()[0])
        return rows, [query["sql"].split()[0] for query in sent.captured_queries]

    first, first_sent = twice()
    again, again_sent = twice()
    connection.close()  # a dropped connection, as after a database restart
    reopened, reopened_sent = twice()

    assert first == again == reopened == [2, 4]
    assert first_sent == ["PREPARE", "EXECUTE", "EXECUTE"]
    assert again_sent == ["EXECUTE", "EXECUTE"]
    assert reopened_sent == ["PREPARE", "EXECUTE", "EXECUTE"]
