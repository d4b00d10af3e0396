"""The participant path's few SQL statements are prepared once per PostgreSQL connection and then only
executed (surveys/trials/sql.py): planning cost more than running them."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from surveys.studies.models import Study
from surveys.trials import services
from surveys.trials.models import Participant
from surveys.trials.selectors import participant_by_token, study_by_public_id
from surveys.trials.sql import _numbered, run
from tests.surveys import factories


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


@pytest.mark.django_db
def test_a_session_and_a_study_read_in_sql_equal_the_orm_s_reads_field_for_field():
    """participant_by_token and study_by_public_id build instances from one prepared statement's row:
    every field, JSON and dates included, must come out as the ORM itself would load it."""
    study = factories.study(factories.researcher(), design={"participants_per_condition": 5})
    participant = services.participant_enter(study=study, source="prolific", recruitment_id="p0",
                                             recruitment_data={"STUDY_ID": "s1", "nested": {"a": [1, 2]}})
    services.participant_consent(participant=participant, agreed=True, client_info={"screen": "1280x800"})

    read = participant_by_token(token=participant.token)

    def fields(instance):
        return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}

    assert fields(read) == fields(Participant.objects.get(pk=participant.pk))
    assert fields(read.study) == fields(Study.objects.get(pk=study.pk))
    assert fields(study_by_public_id(public_id=study.public_id)) == fields(Study.objects.get(pk=study.pk))
    assert read.recruitment_data["nested"] == {"a": [1, 2]} and read.consented_at is not None
    assert read._state.adding is False and read._state.db == "default"
    with pytest.raises(Http404):
        participant_by_token(token="no-such-token")
    with pytest.raises(Http404):
        study_by_public_id(public_id="no-such-study")
