"""A participant withdraws, from the end page or later with the code it showed them: their session and
answers leave the scores, the report and the CSV, and what is kept of it names nobody."""

import csv
import io
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from surveys.trials.models import DataErasure, ErasureActor, ErasureScope, Participant, ParticipantStatus, Response
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
PROLIFIC = {"PROLIFIC_PID": "pid-withdrawing-5f2a", "STUDY_ID": "prolific-study", "SESSION_ID": "session-withdrawing-77"}
WITHDRAW_CODE_PAGE = "/p/withdraw/"


def enter(client: Client, study, *, agree: str = "yes", **params) -> Participant:
    """Through the participant pages: the start button, then consent (or not)."""
    token = client.post(reverse("trials:start", args=[study.public_id]), params)["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": agree})
    return Participant.objects.get(token=token)


def take_part(client: Client, study, *, right: bool, **params) -> Participant:
    """Enter, answer every trial (all right or all wrong), finish."""
    participant = enter(client, study, **params)
    token = participant.token
    for trial in participant.trials.order_by("index"):
        answer = trial.layout["answer"] if right else 1 - trial.layout["answer"]
        body = {"trial": trial.public_id, "choice": answer, "rt_ms": 640.0, "idempotency_key": trial.public_id}
        client.post(reverse("trials:respond", args=[token]), data=json.dumps(body), content_type="application/json")
    client.post(reverse("trials:finish", args=[token]))
    participant.refresh_from_db()
    return participant


def shown_code(page: str) -> str:
    return re.search(r'id="withdrawal-code">([^<]+)<', page).group(1)


def csv_rows(api, study) -> list[dict]:
    response = api.get(f"/api/studies/{study.pk}/responses.csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def condition_numbers(api, study) -> tuple[int, int, float]:
    """(participants, trials, score) of the study's one condition, from the report the researcher reads."""
    [condition] = api.get(f"/api/studies/{study.pk}/report/").json()["conditions"]
    return condition["participants"], condition["trials"], condition["score"]


def personal_values(participant: Participant) -> list[str]:
    """Everything that could tie a record to this person or their session."""
    answers = Response.objects.filter(trial__participant=participant)
    return [participant.recruitment_id, *participant.recruitment_data.values(), participant.token,
            participant.withdrawal_code, *(trial.public_id for trial in participant.trials.all()),
            *(answer.idempotency_key for answer in answers)]


def test_a_withdrawal_from_the_end_page_leaves_scores_report_and_csv_and_a_record_that_names_nobody(
        researcher, api_as, settings):
    study = factories.study(researcher, n_items=4, completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    [condition] = study.conditions.values_list("pk", flat=True)
    planting.crowd(study, accuracy={condition: 1.0}, n=3)
    browser = Client()
    leaving = take_part(browser, study, right=False, **PROLIFIC)
    secrets = personal_values(leaving)
    api = api_as(researcher)
    before = condition_numbers(api, study)  # the report is cached from here on
    assert before == (4, 16, 0.75)
    assert PROLIFIC["PROLIFIC_PID"] in {row["recruitment_id"].split(":")[-1] for row in csv_rows(api, study)}

    end_page = browser.get(reverse("trials:participant", args=[leaving.token])).content.decode()
    code = shown_code(end_page)
    # The page offers the way back to Prolific, and waits for the participant to take it: they have a code to note.
    assert 'id="return-link"' in end_page and "done.js" not in end_page
    assert f'href="{settings.SITE_URL}{WITHDRAW_CODE_PAGE}"' in end_page
    withdrawn = browser.post(reverse("trials:withdraw", args=[leaving.token]), {"withdraw": "yes"})

    page = withdrawn.content.decode()
    assert withdrawn.status_code == 200
    entry = DataErasure.objects.get()
    assert re.search(r'id="withdrawal-reference">([^<]+)<', page).group(1) == entry.reference
    assert study.completion_code in page and 'id="return-link"' in page  # still free to go back and be paid
    assert not Participant.objects.filter(pk=leaving.pk).exists()
    assert not Response.objects.filter(trial__participant_id=leaving.pk).exists()
    assert condition_numbers(api, study) == (3, 12, 1.0)
    rows = csv_rows(api, study)
    assert len(rows) == 12 and str(leaving.pk) not in {row["participant_id"] for row in rows}
    assert not any(value in ",".join(row.values()) for row in rows for value in secrets)
    assert (entry.study, entry.actor, entry.author, entry.scope, entry.participants, entry.responses) == (
        study, ErasureActor.PARTICIPANT, None, ErasureScope.EVERYTHING, 1, 4)
    kept = " ".join(str(getattr(entry, field.attname)) for field in entry._meta.concrete_fields) + str(entry)
    assert [value for value in secrets if value in kept] == []
    assert code not in kept and entry.code_digest != code


def test_the_code_from_the_end_page_withdraws_later_from_any_browser_and_a_second_time_changes_nothing(researcher):
    study = factories.study(researcher, n_items=2)
    participant = take_part(Client(), study, right=True, **PROLIFIC)
    code = shown_code(Client().get(reverse("trials:participant", args=[participant.token])).content.decode())
    elsewhere = Client()

    form = elsewhere.get(WITHDRAW_CODE_PAGE)
    # Typed as people type it: lower case, spaced, with O for 0 and I for 1 where the code has them.
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "i")
    first = elsewhere.post(WITHDRAW_CODE_PAGE, {"code": typed, "withdraw": "yes"})
    again = elsewhere.post(WITHDRAW_CODE_PAGE, {"code": code, "withdraw": "yes"})

    assert form.status_code == 200 and 'id="withdraw-form"' in form.content.decode()
    entry = DataErasure.objects.get()
    assert first.status_code == 200 and "Your answers are withdrawn" in first.content.decode()
    assert not Participant.objects.exists() and not Response.objects.exists()
    assert again.status_code == 200 and "Already withdrawn" in again.content.decode()
    assert entry.reference in again.content.decode()
    assert list(DataErasure.objects.all()) == [entry]


@pytest.mark.parametrize("code", ["ZZZZ-ZZZZ-ZZZZ", "not a code", ""], ids=["unknown", "malformed", "empty"])
def test_a_wrong_code_is_told_so_and_changes_nothing(researcher, code):
    study = factories.study(researcher, n_items=2)
    participant = take_part(Client(), study, right=True)

    refused = Client().post(WITHDRAW_CODE_PAGE, {"code": code, "withdraw": "yes"})

    assert refused.status_code == 404
    message = re.search(r'id="withdraw-error"[^>]*>([^<]+)<', refused.content.decode()).group(1)
    assert message.startswith("No participation has this withdrawal code.")
    assert Participant.objects.get() == participant and Response.objects.count() == 2
    assert not DataErasure.objects.exists()


def test_nothing_is_withdrawn_unless_the_participant_ticks_the_box(researcher):
    study = factories.study(researcher, n_items=2)
    browser = Client()
    participant = take_part(browser, study, right=True)

    unticked_here = browser.post(reverse("trials:withdraw", args=[participant.token]), {})
    unticked_later = Client().post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code})

    assert unticked_here.status_code == 302 and unticked_later.status_code == 400
    assert "Tick the box" in unticked_later.content.decode()
    assert Participant.objects.get().status == ParticipantStatus.COMPLETED and not DataErasure.objects.exists()


def test_a_second_press_on_the_end_page_finds_the_session_gone_and_changes_nothing(researcher):
    study = factories.study(researcher, n_items=2)
    browser = Client()
    participant = take_part(browser, study, right=True)
    withdraw = reverse("trials:withdraw", args=[participant.token])

    browser.post(withdraw, {"withdraw": "yes"})
    second = browser.post(withdraw, {"withdraw": "yes"})

    assert second.status_code == 404 and "no longer stored" in second.content.decode()
    assert DataErasure.objects.count() == 1
    # The study's link, followed again in this browser, starts afresh rather than at the erased session.
    assert browser.get(reverse("trials:start", args=[study.public_id])).status_code == 200


def test_a_session_still_running_shows_no_code_and_cannot_be_withdrawn(researcher):
    study = factories.study(researcher, n_items=2)
    browser = Client()
    participant = enter(browser, study)
    token = participant.token

    runner = browser.get(reverse("trials:participant", args=[token])).content.decode()
    here = browser.post(reverse("trials:withdraw", args=[token]), {"withdraw": "yes"})
    later = Client().post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code, "withdraw": "yes"})

    assert participant.withdrawal_code not in runner
    assert here.status_code == 302
    assert later.status_code == 409 and "once it has ended" in later.content.decode()
    assert Participant.objects.get().status == ParticipantStatus.CONSENTED and not DataErasure.objects.exists()


def test_a_participant_who_declined_is_offered_no_withdrawal_and_is_sent_back_as_before(researcher):
    study = factories.study(researcher, n_items=2, completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    browser = Client()
    participant = enter(browser, study, agree="no")

    page = browser.get(reverse("trials:participant", args=[participant.token])).content.decode()

    assert 'id="withdrawal-code"' not in page and participant.withdrawal_code not in page
    assert "done.js" in page


def test_a_session_that_timed_out_after_consent_offers_withdrawal_on_its_expired_page(researcher):
    study = factories.study(researcher, n_items=3)
    browser = Client()
    participant = enter(browser, study)
    token = participant.token
    trial = participant.trials.order_by("index").first()
    browser.post(reverse("trials:respond", args=[token]), content_type="application/json",
                 data=json.dumps({"trial": trial.public_id, "choice": 0, "rt_ms": 500.0, "idempotency_key": "k"}))
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.TIMED_OUT)  # silent too long

    expired = browser.get(reverse("trials:participant", args=[token]))
    withdrawn = browser.post(reverse("trials:withdraw", args=[token]), {"withdraw": "yes"})

    assert expired.status_code == 410 and shown_code(expired.content.decode()) == participant.withdrawal_code
    assert withdrawn.status_code == 200 and 'id="withdrawn"' in withdrawn.content.decode()
    assert not Participant.objects.exists() and DataErasure.objects.get().responses == 1
