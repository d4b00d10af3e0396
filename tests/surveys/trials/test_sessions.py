"""How sessions end, and what each ending gives back: the gate, practice feedback, the device check,
consent, MTurk's preview and submit form, timeouts, and the researcher's pilot sessions."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.trials.models import Participant, ParticipantStatus, Response, TrialKind
from surveys.trials.selectors import TOUCH_EVERY_S, trials_outline
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def enter(client, study, agree="yes", **params) -> Participant:
    response = client.post(reverse("trials:start", args=[study.public_id]), params)
    token = response["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": agree})
    return Participant.objects.get(token=token)


def answer(client, participant, trial, **values):
    body = {"trial": trial.public_id, "rt_ms": 400.0, "idempotency_key": trial.public_id, **values}
    return client.post(reverse("trials:respond", args=[participant.token]), data=json.dumps(body),
                       content_type="application/json")


def served(client, participant):
    return client.get(reverse("trials:trials", args=[participant.token]), {"n": 5})


def gated_study(**design):
    return factories.study(factories.researcher(), n_items=4, design={"gate": {"trials": 3, "pass": 2}, **design})


def test_nothing_past_the_gate_is_served_before_the_gate_is_answered(client):
    participant = enter(client, gated_study())

    phases = [t["phase"] for t in served(client, participant).json()["trials"]]

    assert phases == ["gate"] * 3


def test_too_few_right_at_the_gate_ends_the_session_with_its_own_code(client):
    study = gated_study()
    participant = enter(client, study)
    for number, trial in enumerate(participant.trials.filter(kind=TrialKind.QUALIFICATION)):
        answer(client, participant, trial, choice=trial.layout["answer"] if number == 0 else 1 - trial.layout["answer"])

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.FAILED_GATE
    refused = served(client, participant)
    assert refused.status_code == 409 and refused.json()["next"].endswith(f"/p/{participant.token}/")
    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()
    assert study.code_failed_gate in page and study.completion_code not in page


def test_passing_the_gate_opens_the_main_block(client):
    participant = enter(client, gated_study())
    for trial in participant.trials.filter(kind=TrialKind.QUALIFICATION):
        answer(client, participant, trial, choice=trial.layout["answer"])

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.CONSENTED
    assert {t["phase"] for t in served(client, participant).json()["trials"]} == {"main"}


def test_practice_feedback_comes_only_after_the_answer_is_stored_and_only_for_practice(client):
    study = factories.study(factories.researcher(), n_items=4, design={"practice": True, "practice_trials": 2,
                                                                       "catch_every": 2})
    participant = enter(client, study)
    practice = participant.trials.filter(kind=TrialKind.PRACTICE).first()
    catch = participant.trials.filter(kind=TrialKind.CATCH).first()
    main = participant.trials.filter(kind=TrialKind.MAIN).first()

    right = answer(client, participant, practice, choice=practice.layout["answer"]).json()
    replay = answer(client, participant, practice, choice=practice.layout["answer"]).json()

    assert right["feedback"] == {"correct": True} and replay["feedback"] == {"correct": True}
    assert Response.objects.filter(trial=practice).count() == 1
    assert "feedback" not in answer(client, participant, catch, choice=0).json()
    assert "feedback" not in answer(client, participant, main, choice=0).json()
    assert "correct" not in json.dumps(served(client, participant).json())


def test_a_similarity_trial_takes_a_rating_from_1_to_7_only(client):
    study = factories.study(factories.researcher(), n_items=3, paradigm="similarity")
    participant = enter(client, study)
    trial = participant.trials.first()

    assert answer(client, participant, trial, rating=8).status_code == 400
    assert answer(client, participant, trial, rating=0).status_code == 400
    assert answer(client, participant, trial, rating=6).status_code == 201
    stored = Response.objects.get(trial=trial)
    assert (stored.rating, stored.choice, stored.correct) == (6, None, None)


def test_an_incompatible_device_ends_the_session_with_its_own_code(client):
    study = factories.study(factories.researcher(), n_items=2)
    participant = enter(client, study)

    reply = client.post(reverse("trials:device", args=[participant.token]),
                        data=json.dumps({"compatible": False, "data": {"width": 200, "height": 300}}),
                        content_type="application/json")

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.INCOMPATIBLE
    assert participant.client_info["device"] == {"width": 200, "height": 300}
    assert study.code_incompatible in client.get(reply.json()["next"]).content.decode()


def test_declining_consent_gives_the_no_consent_code_and_the_redirect(client):
    study = factories.study(factories.researcher(), n_items=2,
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")

    participant = enter(client, study, agree="no", PROLIFIC_PID="nope")

    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()
    assert participant.status == ParticipantStatus.DECLINED
    assert f"cc={study.code_no_consent}" in page


def test_an_mturk_preview_starts_nothing(client):
    study = factories.study(factories.researcher(), n_items=2)

    page = client.get(reverse("trials:start", args=[study.public_id]),
                      {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "h1"})

    assert page.status_code == 200 and b"mturk-preview" in page.content and b'id="begin"' not in page.content
    assert not Participant.objects.exists()


def test_an_mturk_worker_submits_the_assignment_back_to_mturk_only(client):
    study = factories.study(factories.researcher(), n_items=1)
    participant = enter(client, study, workerId="W1", assignmentId="A1", hitId="H1",
                        turkSubmitTo="https://workersandbox.mturk.com")
    answer(client, participant, participant.trials.get(), choice=0)
    client.post(reverse("trials:finish", args=[participant.token]))

    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()

    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in page
    assert 'name="assignmentId" value="A1"' in page
    evil = enter(client.__class__(), study, workerId="W2", assignmentId="A2", turkSubmitTo="https://evil.example")
    assert Participant.objects.get(pk=evil.pk).recruitment_data["turkSubmitTo"] == "https://evil.example"
    assert "evil" not in client.__class__().get(reverse("trials:participant", args=[evil.token])).content.decode()


def test_an_abandoned_session_times_out_and_cannot_resume(client, settings):
    study = factories.study(factories.researcher(), n_items=2)
    participant = enter(client, study, PROLIFIC_PID="slow")
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now() - timedelta(hours=2))
    enter(client.__class__(), study, PROLIFIC_PID="next")  # an arrival sweeps abandoned sessions

    page = client.get(reverse("trials:participant", args=[participant.token]))

    assert page.status_code == 410 and b"expired" in page.content


@pytest.mark.parametrize("url_name", ["trials:participant", "trials:trials"])
def test_loading_a_page_or_trials_keeps_the_session_alive_writing_at_most_once_every_few_seconds(client, url_name):
    study = factories.study(factories.researcher(), n_items=2)
    participant = enter(client, study, PROLIFIC_PID="reloads")
    page = reverse(url_name, args=[participant.token])
    moments_ago = timezone.now() - timedelta(seconds=TOUCH_EVERY_S / 2)
    minutes_ago = timezone.now() - timedelta(minutes=4)

    Participant.objects.filter(pk=participant.pk).update(last_seen_at=moments_ago)
    client.get(page)
    unchanged = Participant.objects.get(pk=participant.pk).last_seen_at
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=minutes_ago)
    client.get(page)
    renewed = Participant.objects.get(pk=participant.pk).last_seen_at

    assert unchanged == moments_ago
    assert timezone.now() - renewed < timedelta(seconds=TOUCH_EVERY_S)


def test_a_researcher_previews_their_study_as_a_pilot_participant(client):
    owner = factories.researcher()
    study = factories.study(owner, n_items=2, design={"participants_per_condition": 1})
    client.force_login(owner)

    first = client.get(reverse("trials:preview", args=[study.public_id]))
    second = client.get(reverse("trials:preview", args=[study.public_id]))

    pilots = Participant.objects.filter(study=study)
    assert first.status_code == second.status_code == 302
    assert pilots.count() == 2 and all(p.is_pilot for p in pilots)


def test_only_the_owner_can_preview(client):
    study = factories.study(factories.researcher(), n_items=2)
    client.force_login(factories.researcher("someone-else"))

    assert client.get(reverse("trials:preview", args=[study.public_id])).status_code == 404
    client.logout()
    assert client.get(reverse("trials:preview", args=[study.public_id])).status_code == 302  # to the login
    assert not Participant.objects.exists()


def test_a_full_study_says_so(client):
    study = factories.study(factories.researcher(), n_items=2, design={"participants_per_condition": 1})
    enter(client, study, PROLIFIC_PID="first")

    late = client.__class__().post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "late"})

    assert late.status_code == 410 and b"full" in late.content


def test_a_long_main_block_pauses_at_each_quarter_and_a_short_one_never(client):
    long_study = factories.study(factories.researcher(), n_items=40, design={"practice": True, "practice_trials": 2})
    short_study = factories.study(factories.researcher("another"), n_items=6)

    assert sorted(trials_outline(token=enter(client, long_study).token, limit=1).breaks) == [12, 22, 32]
    assert trials_outline(token=enter(client.__class__(), short_study).token, limit=1).breaks == set()


@pytest.mark.django_db(transaction=True)
def test_one_answer_posted_at_once_by_several_retries_is_stored_once(settings):
    """The runner retries an answer whose reply it did not get; retries can arrive together (two
    gunicorn workers, each in autocommit, no transaction around the INSERT). One is stored, the others
    are told it was (200, replay), and a different answer to the same trial is refused (409)."""
    import threading

    from django.db import connection
    from django.test import Client

    settings.RATELIMIT_ENABLE = False
    study = factories.study(factories.researcher(), n_items=4)
    participant = enter(Client(), study)
    trial = participant.trials.order_by("index").first()
    statuses, start = [], threading.Barrier(6)

    def post() -> None:
        try:
            start.wait()
            statuses.append(answer(Client(), participant, trial, choice=0).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other = answer(Client(), participant, trial, choice=1, idempotency_key="another-key")

    assert sorted(statuses) == [200] * 5 + [201]
    assert other.status_code == 409
    assert Response.objects.filter(trial=trial).count() == 1
