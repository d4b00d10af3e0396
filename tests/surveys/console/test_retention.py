"""Past a study's retention period, `manage.py iris_retention` removes participants' recruitment ids and
keeps their answers, anonymous: the scores stay, the report and the CSV stop naming anyone, and a record
says how many sessions were done."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from surveys.trials.models import DataErasure, ErasureActor, ErasureScope, Participant, ParticipantStatus, Response
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
BROWSER = {"user_agent": "Mozilla/5.0 (X11; Linux) Firefox/130", "timezone": "Europe/Berlin", "screen": "1920x1080"}


def planted(study, name: str, *, days_ago: int, status: str = ParticipantStatus.COMPLETED) -> Participant:
    participant = planting.participant(study, name=f"prolific:{name}", status=status)
    planting.answers(study, participant, correct=lambda *_: True)
    started = timezone.now() - timedelta(days=days_ago)
    Participant.objects.filter(pk=participant.pk).update(
        created_at=started, consented_at=started, client_info=BROWSER,
        recruitment_data={"PROLIFIC_PID": name, "SESSION_ID": f"session-{name}", "STUDY_ID": "st"})
    return Participant.objects.get(pk=participant.pk)


def retention(capsys) -> str:
    call_command("iris_retention")
    return capsys.readouterr().out


def test_it_removes_recruitment_ids_past_the_retention_period_and_keeps_the_answers(researcher, api_as, capsys):
    study = factories.study(researcher, n_items=3)
    study.retention_days = 30
    study.save()
    old = planted(study, "old-pid-1", days_ago=40)
    recent = planted(study, "recent-pid-2", days_ago=5)
    running = planted(study, "running-pid-3", days_ago=40, status=ParticipantStatus.CONSENTED)
    kept_forever = planted(factories.study(researcher, n_items=3), "kept-pid-4", days_ago=400)  # no retention set
    api = api_as(researcher)
    report_before = api.get(f"/api/studies/{study.pk}/report/").json()  # cached from here on

    said = retention(capsys)

    old.refresh_from_db()
    assert (old.recruitment_id, old.recruitment_data, old.arrival_key) == (f"erased:{old.pk}", {}, "")
    assert old.client_info == {"screen": "1920x1080"} and old.identifiers_erased_at is not None
    assert Response.objects.filter(trial__participant=old).count() == 3
    for untouched in (recent, running, kept_forever):
        assert Participant.objects.get(pk=untouched.pk).recruitment_data == untouched.recruitment_data
    entry = DataErasure.objects.get()
    assert (entry.study, entry.actor, entry.author, entry.scope, entry.participants, entry.responses) == (
        study, ErasureActor.RETENTION, None, ErasureScope.IDENTIFIERS, 1, 0)
    assert f"recruitment ids removed from 1 sessions ({entry.reference})" in said
    report = api.get(f"/api/studies/{study.pk}/report/").json()
    assert report["conditions"] == report_before["conditions"]  # the answers, and so the scores, stay
    assert {e["recruitment_id"] for e in report["exclusions"]} == {f"erased:{old.pk}", recent.recruitment_id}
    body = b"".join(api.get(f"/api/studies/{study.pk}/responses.csv").streaming_content).decode()
    rows = [row for row in csv.DictReader(io.StringIO(body)) if row["participant_id"] == str(old.pk)]
    assert len(rows) == 3 and {(row["recruitment_id"], row["session"]) for row in rows} == {(f"erased:{old.pk}", "")}
    assert "old-pid-1" not in body

    assert "0 studies" in retention(capsys)
    assert DataErasure.objects.count() == 1
    # The participant still holds their withdrawal code, and with it may take the anonymous answers back.
    withdrawn = Client().post("/p/withdraw/", {"code": old.withdrawal_code, "withdraw": "yes"})
    assert withdrawn.status_code == 200 and not Participant.objects.filter(pk=old.pk).exists()
