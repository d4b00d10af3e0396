"""Every admin add/change form and every admin action, submitted as a researcher submits it: signed in,
through the admin's own pages, with data that is accepted and data that is refused; then what was
stored is read back (and on a refusal, that nothing was: no row, no file).

Each test names the pages and actions it submits (``@submits``); the first test lists every page and
action admin offers a researcher and fails for one that no test submits (tests/surveys/admin_coverage.py),
so a new admin form or action comes with its test.
"""

from collections import Counter
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from surveys.generation.models import GenerationJob, JobStatus, RegisteredModel, TargetImage, TargetSet
from surveys.scoring.models import ExclusionRules
from surveys.studies.models import Study
from surveys.studies.paradigms import PARADIGMS
from surveys.studies.services import study_build
from surveys.trials import services as trials
from tests.surveys import factories
from tests.surveys.admin_coverage import marked_submissions, submits
from tests.surveys.admin_forms import form_as_shown

pytestmark = pytest.mark.django_db

def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def act(client, model, action: str, rows, *, follow: bool = False, **extra):
    """Tick rows on the list page and run an action on them, as the admin's form posts it."""
    return client.post(changelist(model), {"action": action, "_selected_action": [row.pk for row in rows], **extra},
                       follow=follow)


def deletes_only_the_unused(client, model, *, unused, used) -> None:
    """delete_selected deletes `unused`; `used`, which other rows need, is refused and kept."""
    act(client, model, "delete_selected", [unused], post="yes")
    refused = act(client, model, "delete_selected", [used], post="yes")

    assert "Cannot delete" in refused.content.decode()
    assert list(model.objects.all()) == [used]


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


# --- the list of what admin offers -----------------------------------------------------------------

def test_every_admin_form_and_action_a_researcher_can_use_is_submitted_by_a_test(rf, researcher):
    request = rf.get("/admin/")
    request.user = researcher
    offered = set()
    for model, model_admin in admin.site._registry.items():
        if not model.__module__.startswith("surveys."):
            continue
        label = model._meta.label_lower
        offered |= {(label, "add")} if model_admin.has_add_permission(request) else set()
        offered |= {(label, "change")} if model_admin.has_change_permission(request) else set()
        offered |= {(label, name) for name in model_admin.get_actions(request)}

    submitted = set(marked_submissions())
    assert offered - submitted == set()
    assert submitted - offered == set()  # nothing claimed that admin does not offer


# --- registered models ------------------------------------------------------------------------------

MODEL_FORM = {"architecture": "resnet18", "input_size": 64, "mean_text": "0.485, 0.456, 0.406",
              "std_text": "0.229, 0.224, 0.225", "num_classes": 16, "init_seed": 0}


@submits("generation.registeredmodel", "add")
def test_a_model_is_registered_with_its_weights_and_a_broken_checkpoint_leaves_nothing(client, researcher, checkpoint,
                                                                                       settings):
    client.force_login(researcher)
    add = reverse("admin:generation_registeredmodel_add")

    refused = client.post(add, {**MODEL_FORM, "name": "broken",
                                "weights": SimpleUploadedFile("broken.pt", b"not a checkpoint")})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors
    assert (RegisteredModel.objects.count(), stored_files(settings)) == (0, [])

    with open(checkpoint, "rb") as weights:
        accepted = client.post(add, {**MODEL_FORM, "name": "demo", "weights": weights})
    assert accepted.status_code == 302
    model = RegisteredModel.objects.get()
    assert (model.owner, model.name, model.input_size, model.num_classes) == (researcher, "demo", 64, 16)
    assert "layer3" in model.layer_names and [p.name for p in stored_files(settings)] == [Path(model.weights.name).name]


def test_with_inspection_on_a_worker_the_form_saves_the_model_inspecting_and_the_list_shows_how_it_ended(
        client, researcher, checkpoint, settings, inline_tasks, django_capture_on_commit_callbacks):
    settings.IRIS_INSPECT_ON_WORKER = True  # the deployment's web process, which has no torch
    client.force_login(researcher)
    add = reverse("admin:generation_registeredmodel_add")

    with django_capture_on_commit_callbacks() as enqueued:
        with open(checkpoint, "rb") as weights:
            saved = client.post(add, {**MODEL_FORM, "name": "demo", "weights": weights}, follow=True)
        broken = client.post(add, {**MODEL_FORM, "name": "broken",
                                   "weights": SimpleUploadedFile("broken.pt", b"not a checkpoint")}, follow=True)
    waiting = client.get(changelist(RegisteredModel)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        for enqueue in enqueued:  # once committed, each inspection runs: here, in this process (inline_tasks)
            enqueue()
    ended = client.get(changelist(RegisteredModel)).content.decode()
    refused = RegisteredModel.objects.get(name="broken")
    reason = client.get(reverse("admin:generation_registeredmodel_change", args=[refused.pk])).content.decode()

    assert messages_of(saved)[0] == ("demo is being inspected by a worker: refresh this page in a moment to see it "
                                     "ready, or refused with the reason.")
    assert messages_of(broken)[0].startswith("broken is being inspected by a worker")
    assert waiting.count('<td class="field-status">Inspecting</td>') == 2
    assert ended.count('<td class="field-status">Ready</td>') == 1
    assert ended.count('<td class="field-status">Refused</td>') == 1
    assert "is not a plain state_dict: it contains pickled Python objects" in refused.error
    assert escape(refused.error) in reason
    assert [p.name for p in stored_files(settings)] == [Path(RegisteredModel.objects.get(name="demo").weights.name).name]


@submits("generation.registeredmodel", "change")
def test_a_model_is_renamed_and_an_empty_name_is_refused(client, researcher):
    model = factories.registered_model(researcher)
    client.force_login(researcher)
    change = reverse("admin:generation_registeredmodel_change", args=[model.pk])
    shown = form_as_shown(client, change)

    refused = client.post(change, {**shown, "name": ""})
    accepted = client.post(change, {**shown, "name": "renamed"})

    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert accepted.status_code == 302
    model.refresh_from_db()
    assert model.name == "renamed"


@submits("generation.registeredmodel", "delete_selected")
def test_an_unused_model_is_deleted_and_one_with_jobs_is_kept(client, researcher):
    unused, used = factories.registered_model(researcher), factories.finished_job(researcher).model
    client.force_login(researcher)

    deletes_only_the_unused(client, RegisteredModel, unused=unused, used=used)


def test_deleting_a_model_or_a_target_set_deletes_their_files_and_a_refused_delete_keeps_them(
        client, researcher, checkpoint, settings, django_capture_on_commit_callbacks):
    """Files go with their rows, however they are deleted (here the admin action; the weights file of a
    model deleted while it was stuck inspecting was left behind before)."""
    model = factories.demo_model_saved(researcher, checkpoint)
    used = factories.finished_job(researcher)
    unused_targets = TargetSet.objects.create(owner=researcher, name="unused")
    image = TargetImage(target_set=unused_targets, name="a.png", sha256="1" * 64, category="a")
    image.image.save("a.png", SimpleUploadedFile("a.png", factories.png_bytes((1, 2, 3))))
    deleted = sorted(Path(settings.MEDIA_ROOT) / name for name in (model.weights.name, image.image.name))
    before = stored_files(settings)
    assert set(deleted) < set(before)
    client.force_login(researcher)

    with django_capture_on_commit_callbacks(execute=True):
        act(client, RegisteredModel, "delete_selected", [model], post="yes")
        act(client, TargetSet, "delete_selected", [unused_targets], post="yes")
        act(client, TargetSet, "delete_selected", [used.target_set], post="yes")  # a job uses it: refused

    assert not RegisteredModel.objects.filter(pk=model.pk).exists()
    assert stored_files(settings) == sorted(set(before) - set(deleted))


# --- target sets ------------------------------------------------------------------------------------

@submits("generation.targetset", "add")
def test_a_zip_of_targets_is_uploaded_with_its_categories_and_a_broken_image_leaves_nothing(client, researcher,
                                                                                            settings):
    client.force_login(researcher)
    add = reverse("admin:generation_targetset_add")
    good = {"cat/a.png": factories.png_bytes((1, 2, 3)), "dog/b.png": factories.png_bytes((3, 2, 1))}

    refused = client.post(add, {"name": "broken", "files": [
        SimpleUploadedFile("set.zip",
                           factories.zip_bytes({**good, "dog/cut.png": factories.png_bytes((9, 9, 9))[:40]}))]})
    assert refused.status_code == 200 and "not a readable image" in refused.content.decode()
    assert (TargetSet.objects.count(), TargetImage.objects.count(), stored_files(settings)) == (0, 0, [])

    accepted = client.post(add, {"name": "pets", "files": [SimpleUploadedFile("set.zip", factories.zip_bytes(good))]})
    assert accepted.status_code == 302
    target_set = TargetSet.objects.get()
    assert target_set.owner == researcher
    assert sorted(target_set.images.values_list("category", flat=True)) == ["cat", "dog"]
    assert len(stored_files(settings)) == 2


@submits("generation.targetset", "change")
def test_a_target_set_is_renamed_and_an_empty_name_is_refused(client, researcher):
    target_set = TargetSet.objects.create(owner=researcher, name="colours")
    TargetImage.objects.create(target_set=target_set, name="a.png", sha256="0" * 64, category="red")
    client.force_login(researcher)
    change = reverse("admin:generation_targetset_change", args=[target_set.pk])
    shown = form_as_shown(client, change)

    refused = client.post(change, {**shown, "name": ""})
    accepted = client.post(change, {**shown, "name": "hues"})

    assert refused.status_code == 200 and accepted.status_code == 302
    target_set.refresh_from_db()
    assert (target_set.name, target_set.images.get().category) == ("hues", "red")


@submits("generation.targetset", "delete_selected")
def test_an_unused_target_set_is_deleted_and_one_with_jobs_is_kept(client, researcher):
    unused = TargetSet.objects.create(owner=researcher, name="unused")
    used = factories.finished_job(researcher).target_set
    client.force_login(researcher)

    deletes_only_the_unused(client, TargetSet, unused=unused, used=used)


# --- generation jobs --------------------------------------------------------------------------------

@pytest.fixture
def network(researcher, checkpoint) -> RegisteredModel:
    """The demo network saved as registration saves it, without paying for an inspection."""
    return factories.demo_model_saved(researcher, checkpoint)


JOB_FORM = {"loss": "reg_free", "seed_type": "super-noise", "seed_shared": "on", "optimizer": "ngd",
            "iterations": 10, "step_size": 1.0, "keep": "best", "parameterization": "pixel", "precision": "auto",
            "random_seed": 0, "perceptual": "", "proxies": "",
            # the IRI criterion, as the form first shows it (iri_engine.spec.IriCriterion's defaults)
            "max_rep_loss": 0.1, "criterion_validity": "on", "criterion_class_agreement": "on",
            "null": "different_category"}


@submits("generation.generationjob", "add")
def test_the_add_page_leads_to_the_job_form_which_queues_a_job_and_refuses_a_bad_one(client, researcher, network):
    targets = TargetSet.objects.create(owner=researcher, name="t")
    TargetImage.objects.create(target_set=targets, name="a.png", sha256="0" * 64)
    TargetImage.objects.create(target_set=targets, name="b.png", sha256="1" * 64)  # the validity null pairs two
    client.force_login(researcher)

    assert client.get(reverse("admin:generation_generationjob_add"))["Location"].endswith("/submit/")
    submit = reverse("admin:generation_job_submit")
    refused = client.post(submit, {**JOB_FORM, "layers": [f"{network.pk}|layer2"], "target_set": targets.pk,
                                   "iterations": 0})
    assert refused.status_code == 200 and not GenerationJob.objects.exists()
    accepted = client.post(submit, {**JOB_FORM, "layers": [f"{network.pk}|layer2", f"{network.pk}|layer3"],
                                    "target_set": targets.pk})

    assert accepted.status_code == 302
    job = GenerationJob.objects.get()
    assert (job.owner, job.model, job.layers, job.status) == (researcher, network, ["layer2", "layer3"],
                                                             JobStatus.QUEUED)
    assert job.batches.count() == 2


@submits("generation.generationjob", "cancel_jobs")
def test_cancel_stops_a_queued_job_and_leaves_a_finished_one_as_it_was(client, researcher, network):
    targets = TargetSet.objects.create(owner=researcher, name="t")
    queued = GenerationJob.objects.create(owner=researcher, model=network, target_set=targets,
                                          config={"layers": ["layer2"]})
    finished = factories.finished_job(researcher)
    client.force_login(researcher)

    response = act(client, GenerationJob, "cancel_jobs", [queued, finished], follow=True)

    queued.refresh_from_db()
    finished.refresh_from_db()
    assert queued.cancel_requested and not finished.cancel_requested and finished.status == JobStatus.DONE
    assert "Asked 2 job(s) to stop." in messages_of(response)


CREATE_STUDY = [f"create_{paradigm}_study" for paradigm in PARADIGMS]


@submits("generation.generationjob", *CREATE_STUDY)
@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_create_a_study_makes_one_a_researcher_could_publish_and_refuses_unfinished_jobs(client, researcher,
                                                                                          network, paradigm):
    finished = [factories.finished_job(researcher, n_items=4) for _ in range(2)]
    queued = GenerationJob.objects.create(owner=researcher, model=network, target_set=finished[0].target_set,
                                          config={"layers": ["layer2"]})
    client.force_login(researcher)

    refused = act(client, GenerationJob, f"create_{paradigm}_study", [finished[0], queued], follow=True)
    assert any("only finished jobs" in m for m in messages_of(refused))
    assert (Study.objects.count(), ExclusionRules.objects.count()) == (0, 0)

    accepted = act(client, GenerationJob, f"create_{paradigm}_study", finished)
    study = Study.objects.get()
    assert accepted["Location"] == reverse("admin:studies_study_change", args=[study.pk])
    assert messages_of(client.get(accepted["Location"])) == [
        f"Created study {study.name}. Check its design and texts below: the design can be changed until the first "
        "participant (not a pilot) starts, the texts at any time (each change a new version)."]
    assert (study.paradigm, study.conditions.count()) == (paradigm, 2)
    design = study.design_spec
    assert (design.practice, design.gate.trials, design.gate.pass_mark, design.catch_every) == (True, 12, 7, 25)
    assert (study.exclusion_rules.catch_min_accuracy, study.exclusion_rules.qualification_min_correct) == (0.75, 7)
    assert study.instructions_html == PARADIGMS[paradigm].instructions
    assert study.prompt == PARADIGMS[paradigm].prompt
    participant = trials.participant_enter(study=study, source="plain", recruitment_id="p", recruitment_data={})
    kinds = Counter(participant.trials.values_list("kind", flat=True))
    assert (kinds["practice"], kinds["qualification"], kinds["catch"] >= 1) == (3, 12, True)


@submits("generation.generationjob", "delete_selected")
def test_an_unused_job_is_deleted_and_one_a_study_shows_is_kept(client, researcher):
    unused, shown = factories.finished_job(researcher), factories.study(researcher).jobs.get()
    client.force_login(researcher)

    deletes_only_the_unused(client, GenerationJob, unused=unused, used=shown)


# --- studies ----------------------------------------------------------------------------------------

@submits("studies.study", "add")
def test_a_study_made_with_the_forms_defaults_has_practice_a_gate_catch_trials_and_a_catch_rule(client, researcher):
    job = factories.finished_job(researcher, n_items=4)
    client.force_login(researcher)
    add = reverse("admin:studies_study_add")
    shown = form_as_shown(client, add)

    refused = client.post(add, {**shown, "name": "bad gate", "jobs": [job.pk], "paradigm": "similarity",
                                "gate_trials": 3, "gate_pass": 5})
    assert refused.status_code == 200 and "more right answers than it has trials" in refused.content.decode()
    assert (Study.objects.count(), ExclusionRules.objects.count()) == (0, 0)

    accepted = client.post(add, {**shown, "name": "ratings", "jobs": [job.pk], "paradigm": "similarity"})
    assert accepted.status_code == 302
    study = Study.objects.get()
    design = study.design_spec
    assert (design.practice, design.practice_trials, design.gate.trials, design.gate.pass_mark,
            design.catch_every) == (True, 3, 12, 7, 25)
    assert study.exclusion_rules.catch_min_accuracy == 0.75
    assert "F" not in study.instructions_html.split() and "**1** (very different)" in study.instructions_html
    assert (study.scale_low_label, study.scale_high_label) == ("very different", "identical")


@submits("studies.study", "change")
def test_the_design_and_texts_change_until_a_participant_starts_then_the_page_says_they_are_frozen(client,
                                                                                                   researcher):
    study = factories.study(researcher, n_items=4)
    client.force_login(researcher)
    change = reverse("admin:studies_study_change", args=[study.pk])
    shown = form_as_shown(client, change)

    refused = client.post(change, {**shown, "catch_every": -1})
    assert refused.status_code == 200 and Study.objects.get().design_version == 1
    assert shown["language"] == "en"
    edited = client.post(change, {**shown, "catch_every": 10, "instructions_html": "Pick the **closer** one.",
                                  "scale_low_label": "", "completion_url": "https://example.org/done?cc={code}",
                                  "language": "de"})
    assert edited.status_code == 302
    study.refresh_from_db()
    assert (study.design["catch_every"], study.instructions_html, study.design_version, study.language) == (
        10, "Pick the **closer** one.", 2, "de")
    pilot = trials.participant_enter(study=study, source="plain", recruitment_id="me", recruitment_data={},
                                     is_pilot=True)
    assert (pilot.study_version.number, client.post(change, {**form_as_shown(client, change), "catch_every": 5}
                                                     ).status_code) == (2, 302)  # a pilot freezes nothing

    participant = trials.participant_enter(study=study, source="plain", recruitment_id="p1", recruitment_data={})
    page = client.get(change).content.decode()
    assert participant.study_version.number == 3 and "frozen since" in page
    stale = client.post(change, {**shown, "catch_every": 7, "instructions_html": "Changed."})  # loaded before
    assert stale.status_code == 200 and "is frozen: a participant started on" in stale.content.decode()
    kept = client.post(change, {**form_as_shown(client, change), "name": "renamed"})
    study.refresh_from_db()
    assert kept.status_code == 302 and study.name == "renamed"
    assert (study.design["catch_every"], study.instructions_html, study.design_version) == (
        5, "Pick the **closer** one.", 3)


def test_a_studys_retention_period_is_set_after_it_froze_and_zero_days_is_refused(client, researcher):
    study = factories.study(researcher, n_items=4)
    trials.participant_enter(study=study, source="plain", recruitment_id="p1", recruitment_data={})  # frozen
    client.force_login(researcher)
    change = reverse("admin:studies_study_change", args=[study.pk])
    shown = form_as_shown(client, change)

    refused = client.post(change, {**shown, "retention_days": 0})
    accepted = client.post(change, {**shown, "retention_days": 90})

    assert refused.status_code == 200 and "greater than or equal to 1" in refused.content.decode()
    assert accepted.status_code == 302
    study.refresh_from_db()
    assert study.retention_days == 90
    client.post(change, {**form_as_shown(client, change), "retention_days": ""})
    assert Study.objects.get().retention_days is None  # empty: kept


@submits("studies.study", "close_studies", "open_studies")
def test_a_study_is_closed_and_reopened_and_nothing_selected_changes_nothing(client, researcher, study):
    client.force_login(researcher)

    nothing = client.post(changelist(Study), {"action": "close_studies", "index": 0}, follow=True)
    assert Study.objects.get().status == "open" and any("must be selected" in m for m in messages_of(nothing))
    act(client, Study, "close_studies", [study])
    closed = Study.objects.get()
    assert (closed.status, closed.closed_reason) == ("closed", "closed by researcher") and closed.closed_at
    act(client, Study, "open_studies", [study])
    assert Study.objects.filter(status="open", closed_reason="", closed_at=None).exists()


@submits("studies.study", "delete_selected")
def test_a_study_is_deleted_with_its_conditions_and_rules_and_anothers_is_out_of_reach(client, researcher,
                                                                                       other_researcher, study):
    theirs = factories.study(other_researcher)
    client.force_login(researcher)

    act(client, Study, "delete_selected", [study, theirs], post="yes")

    assert list(Study.objects.all()) == [theirs]
    assert ExclusionRules.objects.get().study == theirs


# --- exclusion rules --------------------------------------------------------------------------------

RULES_FORM = {"catch_min_accuracy": "", "min_median_rt_ms": "", "max_one_sided_share": "",
              "qualification_min_correct": "", "target_ci_width": ""}


@submits("scoring.exclusionrules", "add")
def test_rules_are_added_to_a_study_without_any_and_a_share_above_one_is_refused(client, researcher, other_researcher):
    bare = study_build(owner=researcher, name="bare", jobs=[factories.finished_job(researcher)])
    theirs = study_build(owner=other_researcher, name="theirs", jobs=[factories.finished_job(other_researcher)])
    client.force_login(researcher)
    add = reverse("admin:scoring_exclusionrules_add")

    refused = client.post(add, {**RULES_FORM, "study": bare.pk, "catch_min_accuracy": "1.5"})
    not_mine = client.post(add, {**RULES_FORM, "study": theirs.pk, "catch_min_accuracy": "0.5"})
    assert refused.status_code == not_mine.status_code == 200 and not ExclusionRules.objects.exists()
    accepted = client.post(add, {**RULES_FORM, "study": bare.pk, "catch_min_accuracy": "0.8", "min_median_rt_ms": "250"})

    assert accepted.status_code == 302
    rules = ExclusionRules.objects.get()
    assert (rules.study, rules.catch_min_accuracy, rules.min_median_rt_ms, rules.max_one_sided_share) == (
        bare, 0.8, 250, None)


@submits("scoring.exclusionrules", "change")
def test_a_studys_rules_are_changed_and_a_negative_time_is_refused(client, researcher, study):
    client.force_login(researcher)
    change = reverse("admin:scoring_exclusionrules_change", args=[study.exclusion_rules.pk])

    refused = client.post(change, {**RULES_FORM, "study": study.pk, "min_median_rt_ms": "-5"})
    assert refused.status_code == 200
    accepted = client.post(change, {**RULES_FORM, "study": study.pk, "max_one_sided_share": "0.9"})

    assert accepted.status_code == 302
    rules = ExclusionRules.objects.get()
    assert (rules.catch_min_accuracy, rules.min_median_rt_ms, rules.max_one_sided_share) == (None, None, 0.9)


@submits("scoring.exclusionrules", "delete_selected")
def test_a_studys_rules_are_deleted_and_anothers_are_out_of_reach(client, researcher, other_researcher, study):
    theirs = factories.study(other_researcher)
    client.force_login(researcher)

    act(client, ExclusionRules, "delete_selected", [study.exclusion_rules, theirs.exclusion_rules], post="yes")

    assert list(ExclusionRules.objects.all()) == [theirs.exclusion_rules]
