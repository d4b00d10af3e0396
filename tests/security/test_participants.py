"""Attacks by anonymous participants (issue 8, participants): hijacking a session by its platform id,
squatting a capped study's places, flooding client_data, deep JSON and odd URLs. Each test sends the
payload as an attacker would, then checks what must not happen: no other person's session, no place
held for long, nothing stored, and never a 500."""

import json
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.generation.models import Stimulus
from surveys.trials.models import Participant, ParticipantStatus, Response
from surveys.trials.selectors import STIMULUS_FILE_FIELDS
from surveys.trials.services import UNCONSENTED_HOLD_S
from tests.surveys import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    cache.clear()  # rate-limit counts live in the per-process cache; each attack starts from zero


@pytest.fixture
def study():
    """A researcher's open 2AFC study of four IRIs, no cap."""
    return factories.study(factories.researcher(), n_items=4)


@pytest.fixture
def attacker() -> Client:
    """A browser of its own that sees every answer, a 500 included (no exception re-raised)."""
    return Client(raise_request_exception=False)


def start(client, study, **params):
    return client.post(reverse("trials:start", args=[study.public_id]), params)


def token_of(response) -> str:
    assert response.status_code == 302, response.status_code
    return response["Location"].rstrip("/").split("/")[-1]


def consented(client, study, **params) -> Participant:
    token = token_of(start(client, study, **params))
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return Participant.objects.get(token=token)


def respond(client, participant, body: dict | str):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(reverse("trials:respond", args=[participant.token]), data=data,
                       content_type="application/json")


def an_answer(participant, **changes) -> dict:
    trial = participant.trials.order_by("index").first()
    return {"trial": trial.public_id, "choice": 0, "rt_ms": 512.0, "idempotency_key": trial.public_id, **changes}


# --- Hijack: a platform id is no secret ---------------------------------------------------------

@pytest.mark.parametrize("platform_id", [{"PROLIFIC_PID": "5f0c2d6e8a1b2c3d4e5f6a7b"},
                                         {"workerId": "A1B2C3D4E5F6G7", "assignmentId": "x", "hitId": "h"}])
def test_knowing_someones_platform_id_does_not_hand_over_their_session(client, attacker, study, platform_id):
    victim = consented(client, study, **platform_id)

    stolen = start(attacker, study, **platform_id)

    assert stolen.status_code == 409
    assert victim.token not in stolen.content.decode()
    assert victim.token not in stolen.get("Location", "")
    assert Participant.objects.count() == 1


def test_a_returning_prolific_participant_on_a_new_device_is_told_where_to_continue(client, study):
    consented(client, study, PROLIFIC_PID="returning")

    new_device = Client(raise_request_exception=False)
    page = start(new_device, study, PROLIFIC_PID="returning")

    text = page.content.decode()
    assert page.status_code == 409
    assert "You have already started this study" in text
    assert "contact the researcher through Prolific" in text
    # ... and the browser that started it still continues where it was.
    assert start(client, study, PROLIFIC_PID="returning").status_code == 302


def test_a_double_click_on_the_start_button_resumes_the_session_it_created(study):
    arrival = "the-start-pages-key"
    first = start(Client(), study, PROLIFIC_PID="double", arrival=arrival)  # its reply never reached the page

    second = start(Client(), study, PROLIFIC_PID="double", arrival=arrival)

    assert token_of(second) == token_of(first)


def test_a_forged_remembered_cookie_naming_someones_token_does_not_resume_their_session(client, attacker, study):
    victim = consented(client, study, PROLIFIC_PID="victim")
    attacker.cookies[f"iris-{study.public_id}"] = victim.token  # unsigned: what an attacker can write

    page = start(attacker, study)

    assert victim.token not in page.get("Location", "")
    assert Participant.objects.filter(token=victim.token).count() == 1


def test_taking_part_leaves_no_server_side_session_row(client, study):
    participant = consented(client, study, PROLIFIC_PID="stateless")

    assert not Session.objects.exists()
    assert token_of(start(client, study)) == participant.token  # the same browser still comes back to it


# --- Squatting: clicks that never consent ------------------------------------------------------

def capped_study(places: int):
    return factories.study(factories.researcher("capper"), n_items=4, design={"participants_per_condition": places})


def age_unconsented_places(study) -> None:
    """Let the places' hold run out: their last sign of life goes back past UNCONSENTED_HOLD_S."""
    Participant.objects.filter(study=study).update(
        last_seen_at=timezone.now() - timedelta(seconds=UNCONSENTED_HOLD_S + 1))


def test_clicks_that_never_consent_hold_a_capped_study_only_for_minutes(attacker):
    study = capped_study(places=3)
    for _ in range(3):
        token_of(start(Client(), study))  # three clicks, no consent
    assert start(attacker, study).status_code == 410  # full while the places are held

    age_unconsented_places(study)
    newcomer = Client()
    participant = consented(newcomer, study)

    assert participant.status == ParticipantStatus.CONSENTED


def test_a_lapsed_place_is_taken_again_on_consent_only_while_one_is_free():
    study = capped_study(places=2)
    slow_readers = [Client() for _ in range(3)]
    tokens = [token_of(start(reader, study)) for reader in slow_readers[:2]]
    age_unconsented_places(study)
    consented(slow_readers[2], study)  # takes one of the two freed places

    agreed = [slow_readers[i].post(reverse("trials:consent", args=[tokens[i]]), {"agree": "yes"}) for i in range(2)]

    assert [reply.status_code for reply in agreed] == [302, 410]
    assert Participant.objects.filter(study=study, status=ParticipantStatus.CONSENTED).count() == 2


# --- Flooding and malformed bodies: 400 (or 404), nothing stored, never 500 --------------------

def test_megabytes_of_client_data_are_refused_and_nothing_is_stored(client, study):
    participant = consented(client, study)

    reply = respond(client, participant, an_answer(participant, client_data={"pad": "x" * 4_800_000}))

    assert reply.status_code == 400
    assert "larger than" in reply.json()["error"]
    assert not Response.objects.exists()


def test_client_data_over_its_own_limit_is_refused(client, study):
    participant = consented(client, study)

    reply = respond(client, participant, an_answer(participant, client_data={"interactions": ["blur"] * 3000}))

    assert reply.status_code == 400
    assert "client_data is larger than" in reply.json()["error"]


@pytest.mark.parametrize("depth", [100_000, 5_000, 7])
def test_deeply_nested_json_is_refused(client, study, depth):
    participant = consented(client, study)
    body = json.dumps(an_answer(participant, client_data={}))
    deep = body.replace('"client_data": {}', '"client_data": {"a": ' + "[" * depth + "]" * depth + "}")

    reply = respond(client, participant, deep)

    assert reply.status_code == 400
    assert not Response.objects.exists()


@pytest.mark.parametrize("changes", [
    {"rt_ms": 1e12}, {"rt_ms": -5}, {"rt_ms": "NaN"}, {"trial": "x" * 500}, {"trial": ["list"]},
    {"idempotency_key": "k\x00"}, {"idempotency_key": "k" * 65}, {"client_data": {"note": "nul \x00 byte"}},
    {"client_data": {"note": "\ud800"}}, {"client_data": "not an object"}, {"unexpected": 1},
])
def test_odd_answers_are_refused_with_a_message(client, study, changes):
    participant = consented(client, study)

    reply = respond(client, participant, an_answer(participant, **changes))

    assert reply.status_code == 400
    assert reply.json()["error"]
    assert not Response.objects.exists()


@pytest.mark.parametrize("raw", ['{"rt_ms": NaN}', '{"rt_ms": Infinity}', "[1, 2]", "{not json", '{"a": 1' + "0" * 5000 + "}"])
def test_bodies_that_are_not_a_plain_json_object_are_refused(client, study, raw):
    participant = consented(client, study)

    reply = respond(client, participant, raw)

    assert reply.status_code == 400


def test_the_device_check_is_bounded_too(client, study):
    participant = consented(client, study)
    url = reverse("trials:device", args=[participant.token])

    flood = client.post(url, json.dumps({"compatible": True, "data": {"x": "y" * 10_000}}),
                        content_type="application/json")
    deep = client.post(url, json.dumps({"compatible": True, "data": {"a": [[[[[[[[1]]]]]]]]}}),
                       content_type="application/json")

    assert (flood.status_code, deep.status_code) == (400, 400)
    participant.refresh_from_db()
    assert "device" not in participant.client_info


def test_odd_image_slots_and_trial_ids_are_not_found(attacker, study):
    participant = consented(attacker, study)
    trial = participant.trials.first().public_id
    token = participant.token
    urls = [f"/p/{token}/img/{trial}/99", f"/p/{token}/img/{trial}/%C2%B2", f"/p/{token}/img/{trial}/" + "9" * 5000,
            f"/p/{token}/img/{trial}/-1", f"/p/{token}/img/no-such-trial/0", f"/p/{token}/img/{trial}%00/0",
            f"/p/{token}%00/img/{trial}/0", f"/p/{token}%00/", f"/s/{study.public_id}%00/"]

    statuses = [attacker.get(url).status_code for url in urls]

    assert statuses == [404] * len(urls)


def test_an_image_is_served_only_to_the_session_whose_trial_shows_it(client, attacker, study):
    """Trial ids travel in page URLs and logs; with someone else's trial id, a session of one's own still
    gets no image (nor learns that the trial exists)."""
    victim = consented(client, study)
    trial = victim.trials.first().public_id
    own = consented(attacker, study)

    mine = client.get(f"/p/{victim.token}/img/{trial}/0")
    theirs = attacker.get(f"/p/{own.token}/img/{trial}/0")

    assert mine.status_code == 200 and mine["Content-Type"] == "image/png" and mine.content[:4] == b"\x89PNG"
    assert theirs.status_code == 404


def test_behind_the_front_server_an_image_is_still_checked_by_django_and_its_name_never_sent(
        client, attacker, study, settings):
    """With IRIS_IMAGE_ACCEL_PREFIX (the deployment), Django answers with the front server's internal
    location of the very file the trial shows, and no bytes; another session's trial is still a 404."""
    settings.IRIS_IMAGE_ACCEL_PREFIX = "/_iris_media/"
    victim = consented(client, study)
    trial = victim.trials.first()
    own = consented(attacker, study)

    mine = client.get(f"/p/{victim.token}/img/{trial.public_id}/0")
    theirs = attacker.get(f"/p/{own.token}/img/{trial.public_id}/0")

    shown = trial.layout_spec.image("0")
    stored = getattr(Stimulus.objects.get(pk=shown.stimulus_id), STIMULUS_FILE_FIELDS[shown.role]).name
    assert mine.status_code == 200 and mine.content == b"" and mine["Content-Type"] == "image/png"
    assert mine["X-Accel-Redirect"] == f"/_iris_media/{stored}"
    assert theirs.status_code == 404 and "X-Accel-Redirect" not in theirs


def test_signed_image_links_are_issued_only_for_the_images_of_the_sessions_own_trials(client, attacker, study,
                                                                                     settings):
    """With IRIS_IMAGE_LINK_SECRET (the deployment), the trial fetch is the images' owner check: the front
    server serves any link it signed. A session gets links to its own trials' files and no others;
    another study's images are never issued to it, nor are its trial ids of any use to ask for them."""
    settings.IRIS_IMAGE_LINK_SECRET = "test-only-image-link-secret-0123456789"
    other_study = factories.study(factories.researcher("other-researcher"), n_items=4)
    victim = consented(client, other_study)
    own = consented(attacker, study)

    fetched = attacker.get(reverse("trials:trials", args=[own.token]), {"n": 5}).json()["trials"]
    linked = {url.split("?")[0].rsplit("/", 1)[1] for trial in fetched
              for url in [trial["query"], *trial["options"]] if url}
    with_their_trial = attacker.get(f"/p/{own.token}/img/{victim.trials.first().public_id}/0")

    def files(participant) -> set[str]:
        refs = [ref for trial in participant.trials.all()
                for ref in [trial.layout_spec.query, *trial.layout_spec.options] if ref]
        return {getattr(Stimulus.objects.get(pk=ref.stimulus_id), STIMULUS_FILE_FIELDS[ref.role]).name.split("/")[-1]
                for ref in refs}

    assert linked and linked <= files(own)
    assert not linked & files(victim)
    assert with_their_trial.status_code == 404


def test_odd_text_in_forms_and_platform_ids_is_cleaned_not_a_500(attacker, study):
    entered = start(attacker, study, PROLIFIC_PID="nul\x00id", STUDY_ID="\x00")
    token = token_of(entered)
    consent = attacker.post(reverse("trials:consent", args=[token]), {"agree": "yes", "screen": "1\x002"})

    participant = Participant.objects.get(token=token)
    assert consent.status_code == 302
    assert participant.recruitment_id == "prolific:nulid"
    assert participant.client_info["screen"] == "12"


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(client, study):
    participant = consented(client, study)

    reply = respond(client, participant, json.dumps(an_answer(participant)) + " " * 40_000)

    assert reply.status_code == 400
    assert "request body is larger than" in reply.json()["error"]
