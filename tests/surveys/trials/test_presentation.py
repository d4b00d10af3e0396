"""Presentation options over HTTP: the design's options, the calibration endpoint, the runner's config,
a device turned away with its reason and a way back to the platform, the focus-loss exclusion rule and
the admin's table of measured viewing geometry."""

import io
import json
import math
import re

import pandas as pd
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from surveys.common.specs import SpecError
from surveys.studies.design import StudyDesign
from surveys.trials import services
from surveys.trials.models import Participant, ParticipantStatus, Response
from surveys.trials.viewing import Viewing
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


def consented(study, client, *, params: str = "") -> Participant:
    client.post(reverse("trials:start", args=[study.public_id]) + params)
    participant = Participant.objects.get(study=study)
    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "yes"})
    participant.refresh_from_db()
    return participant


def post_json(client, url: str, body) -> tuple[int, dict]:
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_design_keeps_presentation_options_and_refuses_bad_ones():
    design = StudyDesign.from_dict({"calibrate": True, "stimulus_deg": 4, "pause_on_leave": True,
                                    "refuse_phones": True, "min_refresh_hz": 60, "max_frame_jitter_ms": 2.5},
                                   paradigm="2afc")

    assert StudyDesign.from_dict(design.to_dict(), paradigm="2afc") == design
    assert design.presentation.stimulus_deg == 4.0 and design.presentation.min_refresh_hz == 60.0
    assert StudyDesign.from_dict({}, paradigm="2afc").presentation.to_dict() == {
        "calibrate": False, "stimulus_deg": None, "pause_on_leave": False, "refuse_phones": False,
        "min_refresh_hz": None, "max_frame_jitter_ms": None}
    for bad in ({"stimulus_deg": 0}, {"stimulus_deg": 90}, {"stimulus_deg": "4"}, {"stimulus_deg": True},
                {"calibrate": "yes"}, {"min_refresh_hz": -60}, {"max_frame_jitter_ms": float("nan")}):
        with pytest.raises(SpecError, match=next(iter(bad))):
            StudyDesign.from_dict(bad, paradigm="2afc")


def test_a_calibration_is_stored_and_answered_with_the_image_width_for_the_studys_degrees(client):
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True, "stimulus_deg": 5})
    participant = consented(study, client)

    status, reply = post_json(client, reverse("trials:viewing", args=[participant.token]),
                              {"px_per_mm": 4.0, "distance_mm": 600})

    participant.refresh_from_db()
    expected_px = 2 * 600 * math.tan(math.radians(2.5)) * 4.0
    assert status == 200 and reply["calibrated"] is True
    assert reply["stimulus_px"] == pytest.approx(expected_px)
    assert reply["px_per_deg"] == pytest.approx(4.0 * 2 * 600 * math.tan(math.radians(0.5)))
    assert participant.client_info["viewing"]["distance_mm"] == 600
    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()
    config = json.loads(re.search(r'id="iris-config" type="application/json">(.*?)</script>', page).group(1))
    assert config["viewing"]["stimulus_px"] == pytest.approx(expected_px)  # a reload sizes images at once
    assert config["presentation"]["calibrate"] is True


@pytest.mark.parametrize(("body", "failure"), [({"skipped": True}, "skipped"),
                                                ({"px_per_mm": 4.0, "distance_mm": 40}, "implausible"),
                                                ({"px_per_mm": 400.0, "distance_mm": 600}, "implausible")])
def test_a_skipped_or_implausible_calibration_falls_back_to_window_sized_images(client, body, failure):
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True, "stimulus_deg": 5})
    participant = consented(study, client)

    status, reply = post_json(client, reverse("trials:viewing", args=[participant.token]), body)

    assert status == 200
    assert (reply["calibrated"], reply["failure"], reply["stimulus_px"], reply["px_per_deg"]) == (
        False, failure, None, None)


@pytest.mark.parametrize("body", ["4.0", [], {"px_per_mm": 4.0}, {"px_per_mm": "4", "distance_mm": 600},
                                  {"px_per_mm": True, "distance_mm": 600}, {"px_per_mm": -4, "distance_mm": 600},
                                  {"skipped": "yes"}, {"px_per_mm": 4.0, "distance_mm": 600, "extra": 1}])
def test_a_malformed_calibration_is_a_400_and_stores_nothing(client, body):
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True})
    participant = consented(study, client)

    status, reply = post_json(client, reverse("trials:viewing", args=[participant.token]), body)

    participant.refresh_from_db()
    assert status == 400 and reply["error"]
    assert "viewing" not in participant.client_info


def test_a_refused_device_is_told_why_and_sent_back_to_prolific_with_its_code(client):
    study = factories.study(factories.researcher(), n_items=2, design={"min_refresh_hz": 100},
                            completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    participant = consented(study, client, params="?PROLIFIC_PID=p1&STUDY_ID=s&SESSION_ID=x")

    status, reply = post_json(client, reverse("trials:device", args=[participant.token]),
                              {"compatible": False, "data": {"refresh_hz": 30.0, "refused": "slow_refresh"}})
    page = client.get(reply["next"]).content.decode()

    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.INCOMPATIBLE
    assert 'id="refusal">This screen refreshes too slowly' in page
    assert f"https://app.prolific.com/submissions/complete?cc={study.code_incompatible}" in page


def test_a_reason_the_server_does_not_know_shows_no_text_of_the_sender(client):
    study = factories.study(factories.researcher(), n_items=2)
    participant = consented(study, client)

    post_json(client, reverse("trials:device", args=[participant.token]),
              {"compatible": False, "data": {"refused": "<b>pwned</b>"}})
    page = client.get(reverse("trials:participant", args=[participant.token])).content.decode()

    assert "pwned" not in page and 'id="refusal"' not in page


def test_the_focus_loss_rule_set_in_admin_excludes_who_left_too_often_in_the_export(client):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=4)
    client.force_login(researcher)
    # Every study starts with its rules (catch accuracy, the gate); the researcher changes them.
    added = client.post(reverse("admin:scoring_exclusionrules_change", args=[study.exclusion_rules.pk]), {
        "study": study.pk, "catch_min_accuracy": "", "min_median_rt_ms": "", "max_one_sided_share": "",
        "qualification_min_correct": "", "max_focus_lost_share": "0.3", "target_ci_width": ""})
    away, present = planting.participant(study, name="away"), planting.participant(study, name="present")
    for who in (away, present):
        planting.answers(study, who, correct=lambda *_: True)
    # "away" left the page during two of four main trials, "present" during one.
    for who, lost in ((away, 2), (present, 1)):
        for response in Response.objects.filter(trial__participant=who).order_by("trial__index")[:lost]:
            response.client_data = {**response.client_data, "focus_lost": True, "paused_ms": 1500}
            response.save()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=researcher)[0].key}")
    csv = api.get(f"/api/studies/{study.pk}/responses.csv")
    frame = pd.read_csv(io.BytesIO(b"".join(csv.streaming_content)))

    assert added.status_code == 302
    by_who = frame.groupby("recruitment_id")
    assert by_who.excluded.max().to_dict() == {"away": 1, "present": 0}
    assert by_who.exclusion_reason.first()["away"] == "left the study during 50% of trials > 30%"
    assert by_who.focus_lost.sum().to_dict() == {"away": 2, "present": 1}
    assert frame[frame.focus_lost == 1].paused_ms.eq(1500).all()


def test_the_study_admin_shows_the_spread_of_measured_distances_and_pixels_per_degree(client):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2, design={"calibrate": True, "stimulus_deg": 4})
    for name, distance in (("a", 400), ("b", 500), ("c", 700)):
        who = planting.participant(study, name=name)
        services.participant_viewing_record(participant=who, viewing=Viewing(
            skipped=False, px_per_mm=4.0, distance_mm=distance))
    services.participant_viewing_record(participant=planting.participant(study, name="d"),
                                        viewing=Viewing(skipped=True))
    client.force_login(researcher)

    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()

    table = re.search(r'<table id="iris-viewing">.*?</table>', page, re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", table)
    assert cells[:5] == ["viewing distance (cm)", "3", "40.0", "45.0 / 50.0 / 60.0", "70.0"]
    assert cells[5:7] == ["pixels per degree", "3"]
    assert cells[-5:-3] == ["calibration failed or skipped", "1"]


def test_a_device_report_handled_from_an_older_read_keeps_the_calibration_stored_meanwhile(client):
    """The page posts the browser check and the calibration close together: the device view may hold a
    participant read before the calibration was stored, and must not write it back without it."""
    study = factories.study(factories.researcher(), n_items=2, design={"calibrate": True})
    participant = consented(study, client)
    read_before = Participant.objects.get(pk=participant.pk)
    post_json(client, reverse("trials:viewing", args=[participant.token]), {"px_per_mm": 4.0, "distance_mm": 600})

    services.participant_device(participant=read_before, compatible=True, data={"width": 1280})

    participant.refresh_from_db()
    assert participant.client_info["viewing"]["calibrated"] is True
    assert participant.client_info["device"] == {"width": 1280}
