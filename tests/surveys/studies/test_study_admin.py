"""The researcher's side in admin: create a study from jobs with a paradigm and its options, preview
it, watch progress per condition (pilots left out), close and reopen it."""

import pytest
from django.urls import reverse

from surveys.studies.models import Study
from surveys.trials import services
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories

pytestmark = pytest.mark.django_db

FORM = {"practice": "on", "practice_trials": 3, "catch_every": 25, "fixation_ms": 300, "stimulus_ms": 300,
        "mask_ms": 300, "foils": "seed", "min_width": 320, "min_height": 480, "completion_url": ""}


def test_a_researcher_creates_a_classification_study_from_two_jobs_with_a_gate(client, researcher):
    jobs = [factories.finished_job(researcher, n_items=4) for _ in range(2)]
    client.force_login(researcher)

    response = client.post(reverse("admin:studies_study_add"), {
        **FORM, "name": "metamers", "jobs": [j.pk for j in jobs], "paradigm": "classification",
        "gate_trials": 12, "gate_pass": 7, "stimulus_ms": 200, "once_per_target": "on",
        "participants_per_condition": 20})

    assert response.status_code == 302, response.content.decode()[-3000:]
    study = Study.objects.get(name="metamers")
    assert study.paradigm == "classification" and study.conditions.count() == 2
    assert study.design["gate"] == {"trials": 12, "pass": 7}
    assert (study.design["stimulus_ms"], study.design["k"], study.design["once_per_target"]) == (200, None, True)


def test_a_researcher_makes_a_german_study_whose_texts_are_written_in_german(client, researcher):
    job = factories.finished_job(researcher, n_items=2)
    client.force_login(researcher)

    response = client.post(reverse("admin:studies_study_add"), {
        **FORM, "name": "auf Deutsch", "jobs": [job.pk], "paradigm": "similarity", "language": "de"})

    assert response.status_code == 302, response.content.decode()[-3000:]
    study = Study.objects.get(name="auf Deutsch")
    assert study.language == "de"
    assert (study.prompt, study.scale_low_label, study.scale_high_label) == (
        "Wie ähnlich sind sich diese beiden Bilder?", "sehr verschieden", "identisch")
    assert "Sie werden viele Male bewerten, wie ähnlich sich zwei Bilder sind." in study.consent_text


def test_the_form_sets_the_presentation_options_and_refuses_bad_ones(client, researcher):
    job = factories.finished_job(researcher, n_items=2)
    client.force_login(researcher)
    form = {**FORM, "jobs": [job.pk], "paradigm": "2afc"}

    refused = client.post(reverse("admin:studies_study_add"), {**form, "name": "huge", "stimulus_deg": "90"})
    made = client.post(reverse("admin:studies_study_add"), {
        **form, "name": "calibrated", "calibrate": "on", "stimulus_deg": "4.5", "pause_on_leave": "on",
        "refuse_phones": "on", "min_refresh_hz": "59", "max_frame_jitter_ms": ""})

    assert refused.status_code == 200 and not Study.objects.filter(name="huge").exists()
    assert made.status_code == 302, made.content.decode()[-3000:]
    design = Study.objects.get(name="calibrated").design
    assert {key: design[key] for key in ("calibrate", "stimulus_deg", "pause_on_leave", "refuse_phones",
                                         "min_refresh_hz", "max_frame_jitter_ms")} == {
        "calibrate": True, "stimulus_deg": 4.5, "pause_on_leave": True, "refuse_phones": True,
        "min_refresh_hz": 59.0, "max_frame_jitter_ms": None}


def test_a_design_the_jobs_cannot_fill_is_refused_on_the_form(client, researcher):
    job = factories.finished_job(researcher, n_items=2)
    client.force_login(researcher)

    response = client.post(reverse("admin:studies_study_add"), {
        **FORM, "name": "too few", "jobs": [job.pk], "paradigm": "matching", "k": 3})

    assert response.status_code == 200 and b"at least 3 targets" in response.content
    assert not Study.objects.exists()


def test_someone_elses_jobs_cannot_be_chosen(client, researcher, other_researcher):
    job = factories.finished_job(researcher, n_items=2)
    client.force_login(other_researcher)

    response = client.post(reverse("admin:studies_study_add"), {
        **FORM, "name": "theft", "jobs": [job.pk], "paradigm": "2afc"})

    assert response.status_code == 200 and not Study.objects.exists()


def test_the_study_page_shows_the_preview_link_and_progress_per_condition_without_pilots(client, researcher):
    study = factories.study(researcher, n_items=2, layers=("layer2", "layer3"))
    done = services.participant_enter(study=study, source="plain", recruitment_id="a", recruitment_data={})
    Participant.objects.filter(pk=done.pk).update(status=ParticipantStatus.COMPLETED)
    gone = services.participant_enter(study=study, source="plain", recruitment_id="b", recruitment_data={})
    Participant.objects.filter(pk=gone.pk).update(status=ParticipantStatus.FAILED_GATE)
    services.participant_enter(study=study, source="plain", recruitment_id="c", recruitment_data={})
    services.participant_enter(study=study, source="plain", recruitment_id="pilot", recruitment_data={},
                               is_pilot=True)
    client.force_login(researcher)

    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()

    assert reverse("trials:preview", args=[study.public_id]) in page
    assert page.count("<td>3</td><td>1</td><td>1</td><td>1</td>") == 2  # started, active, completed, ended early
    assert "1 completed of 3 started" in page


def test_close_and_reopen(client, researcher, study):
    client.force_login(researcher)
    changelist = reverse("admin:studies_study_changelist")

    client.post(changelist, {"action": "close_studies", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == "closed"
    client.post(changelist, {"action": "open_studies", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == "open"


def test_the_form_takes_questions_as_json_and_refuses_a_bad_one_naming_it(client, researcher):
    job = factories.finished_job(researcher, n_items=2)
    client.force_login(researcher)
    form = {**FORM, "jobs": [job.pk], "paradigm": "2afc"}
    bad = '[{"id": "age", "kind": "number", "prompt": "Age?", "min": 99, "max": 18}]'
    good = '[{"id": "age", "kind": "number", "prompt": "Age?", "min": 18, "max": 99}]'

    refused = client.post(reverse("admin:studies_study_add"), {**form, "name": "bad", "questions_before": bad})
    made = client.post(reverse("admin:studies_study_add"), {**form, "name": "good", "questions_after": good})

    assert refused.status_code == 200 and "Question age min is above its max." in refused.content.decode()
    assert not Study.objects.filter(name="bad").exists()
    assert made.status_code == 302, made.content.decode()[-3000:]
    design = Study.objects.get(name="good").design
    assert design["questions_before"] == [] and design["questions_after"][0]["id"] == "age"


def change_form_data(client, study) -> dict:
    """The study's change page as a browser would post it untouched: every field at its shown value."""
    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).context
    form = page["adminform"].form
    data = {}
    for inline in page["inline_admin_formsets"]:  # the read-only conditions: only their counts
        management = inline.formset.management_form
        data |= {management.add_prefix(name): management[name].value() or "" for name in management.fields}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value is not False and value is not None:
            data[name] = value
    return data


def test_the_change_page_edits_the_debrief_and_the_questions_and_refuses_a_bad_question(client, researcher):
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)
    data = change_form_data(client, study)
    question = '[{"id": "mood", "kind": "scale", "prompt": "Mood?", "points": 5}]'

    refused = client.post(reverse("admin:studies_study_change", args=[study.pk]),
                          {**data, "questions_after": '[{"id": "mood", "kind": "scale", "prompt": "Mood?", "points": 1}]'})
    saved = client.post(reverse("admin:studies_study_change", args=[study.pk]),
                        {**data, "questions_after": question, "debrief_text": "Thanks: *this* was about IRIs."})

    assert refused.status_code == 200 and "Question mood points must be a whole number of at least 2." in \
        refused.content.decode()
    assert saved.status_code == 302, saved.content.decode()[-3000:]
    study.refresh_from_db()
    assert study.debrief_text == "Thanks: *this* was about IRIs."
    assert study.design["questions_after"] == [{"id": "mood", "kind": "scale", "prompt": "Mood?", "required": True,
                                                "points": 5, "low_label": "", "high_label": ""}]
    assert study.design_version == 2


def test_a_frozen_study_made_before_questions_existed_can_still_be_renamed(client, researcher):
    study = factories.study(researcher, n_items=2)
    older = {key: value for key, value in study.design.items() if not key.startswith("questions_")}
    Study.objects.filter(pk=study.pk).update(design=older)  # as stored before the option existed
    services.participant_enter(study=study, source="plain", recruitment_id="a", recruitment_data={})
    client.force_login(researcher)

    response = client.post(reverse("admin:studies_study_change", args=[study.pk]),
                           {**change_form_data(client, study), "name": "renamed"})

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Study.objects.get(pk=study.pk).name == "renamed"
