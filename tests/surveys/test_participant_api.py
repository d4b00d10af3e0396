"""The participant API: responses are stored once, belong to their session, and reveal nothing."""

import json

import pytest
from django.urls import reverse

from surveys.trials import services
from surveys.trials.models import Participant, ParticipantStatus, Response

pytestmark = pytest.mark.django_db


def enter(client, study, **params) -> Participant:
    response = client.post(reverse("trials:start", args=[study.public_id]), params)
    assert response.status_code == 302
    token = response["Location"].rstrip("/").split("/")[-1]
    participant = Participant.objects.get(token=token)
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    participant.refresh_from_db()
    return participant


def post_response(client, participant, trial_id, *, choice=0, key=None, rt=500.0):
    return client.post(reverse("trials:respond", args=[participant.token]),
                       data=json.dumps({"trial": trial_id, "choice": choice, "rt_ms": rt,
                                        "idempotency_key": key or trial_id}),
                       content_type="application/json")


def test_it_does_not_create_a_session_on_a_link_preview(client, study):
    response = client.get(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "p1"})

    assert response.status_code == 200
    assert not Participant.objects.exists()


def test_it_freezes_a_counterbalanced_design(client, study):
    participant = enter(client, study)

    trials = list(participant.trials.all())
    assert len(trials) == 4
    assert sorted(t.item_id for t in trials) == sorted(study.items.values_list("pk", flat=True))
    assert sum(t.target_on_left for t in trials) == 2


def test_it_stores_a_retried_response_once(client, study):
    participant = enter(client, study)
    trial = participant.trials.first()

    first = post_response(client, participant, trial.public_id)
    second = post_response(client, participant, trial.public_id)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["replay"] is True
    assert Response.objects.filter(trial=trial).count() == 1


def test_it_refuses_a_different_answer_to_an_answered_trial(client, study):
    participant = enter(client, study)
    trial = participant.trials.first()
    post_response(client, participant, trial.public_id, choice=0)

    changed = post_response(client, participant, trial.public_id, choice=1, key="another-key")

    assert changed.status_code == 409
    assert Response.objects.get(trial=trial).choice == 0


def test_it_refuses_a_trial_of_another_session(client, study):
    mine = enter(client, study, PROLIFIC_PID="me")
    theirs = enter(client.__class__(), study, PROLIFIC_PID="them")

    response = post_response(client, mine, theirs.trials.first().public_id)

    assert response.status_code == 404
    assert not Response.objects.exists()


@pytest.mark.parametrize("body", [{"choice": 2}, {"choice": "0"}, {"choice": True}, {"rt_ms": -1},
                                  {"rt_ms": "fast"}])
def test_it_rejects_malformed_responses_and_stores_nothing(client, study, body):
    participant = enter(client, study)
    trial = participant.trials.first()
    payload = {"trial": trial.public_id, "choice": 0, "rt_ms": 300, "idempotency_key": "k", **body}

    response = client.post(reverse("trials:respond", args=[participant.token]), data=json.dumps(payload),
                           content_type="application/json")

    assert response.status_code == 400
    assert not Response.objects.exists()


def test_it_records_whether_the_target_was_chosen_from_the_side(client, study):
    participant = enter(client, study)
    for trial in participant.trials.all():
        post_response(client, participant, trial.public_id, choice=0 if trial.target_on_left else 1)

    assert Response.objects.filter(chose_target=True).count() == 4


def test_a_returning_prolific_participant_resumes_in_the_browser_that_started(client, study):
    first = enter(client, study, PROLIFIC_PID="abc", STUDY_ID="s", SESSION_ID="x")
    post_response(client, first, first.trials.first().public_id)

    again = client.post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "abc"})

    assert again["Location"].rstrip("/").endswith(first.token)
    assert Participant.objects.count() == 1
    assert first.recruitment_data["STUDY_ID"] == "s"


def test_it_serves_upcoming_trials_without_saying_which_option_is_the_target(client, study):
    participant = enter(client, study)

    payload = client.get(reverse("trials:trials", args=[participant.token]), {"n": 20}).json()

    text = json.dumps(payload).lower()
    for word in ("target", "seed", "correct", "left", "right", "iri"):
        assert word not in text
    assert len(payload["trials"]) == 4  # at most MAX_TRIALS_AHEAD, here all four
    trial = participant.trials.get(public_id=payload["trials"][0]["id"])
    left = client.get(payload["trials"][0]["options"][0])
    stored = trial.item.stimulus.target_png if trial.target_on_left else trial.item.stimulus.seed_png
    assert left.content == stored.open("rb").read()
    assert "filename" not in left.get("Content-Disposition", "")  # a file name would say target or seed


def test_it_finishes_only_when_every_trial_is_answered(client, study):
    participant = enter(client, study)
    finish = reverse("trials:finish", args=[participant.token])

    assert client.post(finish).status_code == 409
    for trial in participant.trials.all():
        post_response(client, participant, trial.public_id)
    assert client.post(finish).status_code == 200

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    assert study.completion_code in client.get(reverse("trials:participant", args=[participant.token])).content.decode()


def test_a_closed_study_admits_nobody_new_but_lets_participants_resume(client, study):
    returning = enter(client, study, PROLIFIC_PID="early")
    study.status = "closed"
    study.save()

    late = client.__class__().post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "late"})
    back = client.post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "early"})

    assert late.status_code == 410
    assert back["Location"].rstrip("/").endswith(returning.token)


def test_an_unknown_session_token_is_not_found(client):
    assert client.get(reverse("trials:participant", args=["not-a-token"])).status_code == 404


def test_a_declined_session_takes_no_responses(client, study):
    response = client.post(reverse("trials:start", args=[study.public_id]))
    participant = Participant.objects.get()
    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "no"})

    with pytest.raises(services.ResponseRejected):
        services.response_record(token=participant.token, trial_public_id=participant.trials.first().public_id,
                                 choice=0, rt_ms=100, idempotency_key="k", client_data={})
    assert response.status_code == 302
