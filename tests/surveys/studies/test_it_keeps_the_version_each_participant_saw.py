"""Versions of a study: every change to what participants read (or, before launch, to the design) is
recorded as a new version; a launched study's texts still change, as a new version that only newcomers
are shown, while everyone before keeps pointing at the version they saw, whose row never changes.
Met as its users meet it: the researcher's admin change form and REST API, the participant pages,
and the responses CSV."""

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from surveys.studies.models import StudyVersion
from surveys.trials.models import Participant
from tests.surveys import factories
from tests.surveys.admin_forms import form_as_shown

pytestmark = pytest.mark.django_db


def arrive(study, pid: str, *, agree: bool) -> tuple[Client, Participant]:
    """A participant's own browser: the start button, then consent if ``agree``."""
    browser = Client()
    started = browser.post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": pid})
    token = started["Location"].rstrip("/").split("/")[-1]
    if agree:
        browser.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return browser, Participant.objects.get(token=token)


def page_of(browser: Client, participant: Participant) -> str:
    return browser.get(reverse("trials:participant", args=[participant.token])).content.decode()


def change_form(client, study) -> dict:
    return form_as_shown(client, reverse("admin:studies_study_change", args=[study.pk]))


def answer_every_trial(browser: Client, participant: Participant) -> None:
    for trial in participant.trials.all():
        body = {"trial": trial.public_id, "choice": 0, "rt_ms": 500.0, "idempotency_key": trial.public_id}
        browser.post(reverse("trials:respond", args=[participant.token]), data=json.dumps(body),
                     content_type="application/json")


def test_consent_edited_in_admin_after_launch_is_a_new_version_that_only_newcomers_read(client, researcher):
    study = factories.study(researcher, n_items=2)
    study_page = reverse("admin:studies_study_change", args=[study.pk])
    first_browser, first = arrive(study, "first", agree=True)
    waiting_browser, waiting = arrive(study, "waiting", agree=False)  # on the consent page when it changes
    version_one = StudyVersion.objects.filter(study=study, number=1).values().get()
    client.force_login(researcher)

    edited = client.post(study_page, {**change_form(client, study), "consent_text": "New consent: call 555-0100.",
                                      "debrief_text": "Thank you."})

    assert edited.status_code == 302, edited.content.decode()[-2000:]
    newcomer_browser, newcomer = arrive(study, "newcomer", agree=False)
    first.refresh_from_db()
    assert (first.study_version.number, waiting.study_version.number, newcomer.study_version.number) == (1, 1, 2)
    assert StudyVersion.objects.filter(study=study, number=1).values().get() == version_one
    assert "New consent" not in page_of(waiting_browser, waiting)
    assert "You are invited to take part" in page_of(waiting_browser, waiting)
    assert "New consent: call 555-0100." in page_of(newcomer_browser, newcomer)
    answer_every_trial(first_browser, first)
    first_browser.post(reverse("trials:finish", args=[first.token]))
    assert "Thank you." not in page_of(first_browser, first)  # their version had no debrief
    shown = client.get(study_page).content.decode()  # the versions, under the form holding the new text
    assert f"{study} v2" in shown and f"{study} v1" in shown and "You are invited to take part" in shown
    participant_page = client.get(reverse("admin:trials_participant_change", args=[first.pk])).content.decode()
    assert f"{study} v1" in participant_page


def test_the_design_is_frozen_after_launch_and_a_refusal_records_no_version(client, researcher):
    study = factories.study(researcher, n_items=2)
    study_page = reverse("admin:studies_study_change", args=[study.pk])
    client.force_login(researcher)
    before_launch = change_form(client, study)
    assert client.post(study_page, {**before_launch, "catch_every": 2}).status_code == 302  # before launch: v2
    arrive(study, "p1", agree=True)

    stale = client.post(study_page, {**before_launch, "catch_every": 3, "consent_text": "Other words."})

    assert stale.status_code == 200 and "is frozen" in stale.content.decode()
    assert list(StudyVersion.objects.filter(study=study).values_list("number", flat=True)) == [2, 1]
    assert [v.design["catch_every"] for v in StudyVersion.objects.filter(study=study)] == [2, 0]


def test_texts_changed_over_the_api_after_launch_are_a_new_version_listed_with_its_participants(api_as, researcher,
                                                                                                other_researcher):
    study = factories.study(researcher, n_items=2, paradigm="similarity")
    owner = api_as(researcher)
    arrive(study, "before", agree=True)

    changed = owner.patch(f"/api/studies/{study.pk}/design/", {"instructions": "Rate how alike they look."},
                          format="json")
    arrive(study, "after", agree=True)

    assert changed.status_code == 200 and changed.json()["design_version"] == 2
    versions = owner.get(f"/api/studies/{study.pk}/versions/").json()
    assert [(v["number"], v["participants"], v["created_by"]) for v in versions] == [(2, 1, "researcher"),
                                                                                     (1, 1, "researcher")]
    assert versions[0]["instructions_html"] == "Rate how alike they look."
    assert versions[1]["instructions_html"] != versions[0]["instructions_html"]
    participants = owner.get(f"/api/studies/{study.pk}/participants/").json()
    assert {p["recruitment_id"]: p["study_version"] for p in participants} == {"prolific:before": 1, "prolific:after": 2}
    assert api_as(other_researcher).get(f"/api/studies/{study.pk}/versions/").status_code == 404


def test_the_responses_csv_says_which_version_each_participant_was_shown(api_as, researcher):
    study = factories.study(researcher, n_items=2)
    owner = api_as(researcher)
    for pid in ("p1", "p2"):
        browser, participant = arrive(study, pid, agree=True)
        answer_every_trial(browser, participant)
        owner.patch(f"/api/studies/{study.pk}/design/", {"prompt": f"Which looks closer? ({pid})"}, format="json")

    export = owner.get(f"/api/studies/{study.pk}/responses.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))

    assert {(row["recruitment_id"], row["study_version"]) for row in rows} == {("prolific:p1", "1"), ("prolific:p2", "2")}


def test_a_version_on_record_is_never_changed():
    study = factories.study(factories.researcher(), n_items=2)
    version = StudyVersion.objects.get(study=study)
    version.consent_text = "rewritten"

    with pytest.raises(TypeError, match="never changed"):
        version.save()
    with pytest.raises(TypeError, match="never changed"):
        StudyVersion.objects.filter(study=study).update(consent_text="rewritten")
    assert StudyVersion.objects.get(study=study).consent_text.startswith("You are invited")
