"""An IRI is an IRI: every stored image is judged against its job's explicit criterion and null,
the verdict is shown beside it, and studies survey only passing IRIs unless the researcher chooses
otherwise. The subjects are the trained digit controls (iri_engine.controls), the targets held-out
digits in category folders."""

import csv
import io
import re
from html import escape
from pathlib import Path

import pytest
from django.core.files import File
from django.urls import reverse

from iri_engine.controls import DIGITS_MEAN, DIGITS_STD, write_controls
from iri_engine.demo import demo_digits_zip
from surveys.generation import services
from surveys.generation.models import GenerationJob, JobStatus, NullDistributionCache, RegisteredModel
from surveys.studies.models import Study
from tests.surveys import factories

pytestmark = pytest.mark.django_db

CONTROL_LAYERS = ["conv1", "layer1", "layer2", "layer3", "avgpool", "fc"]
JOB_FORM = {"seed_type": "super-noise", "seed_shared": "on", "optimizer": "ngd", "step_size": 1.0, "keep": "best",
            "parameterization": "pixel", "precision": "fp32", "random_seed": 0, "proxies": "",
            "criterion_validity": "on", "criterion_class_agreement": "on", "null": "different_category"}
STUDY_FORM = {"paradigm": "2afc", "foils": "seed", "practice_trials": 3, "catch_every": 0, "fixation_ms": 300,
              "stimulus_ms": 300, "mask_ms": 300, "min_width": 320, "min_height": 480, "completion_url": ""}


@pytest.fixture
def control(researcher, tmp_path):
    """A control network saved as registration saves it (inspection is tested elsewhere)."""
    specs = write_controls(tmp_path)

    def register(name: str) -> RegisteredModel:
        model = RegisteredModel(owner=researcher, name=name, architecture=specs[name].spec.architecture,
                                input_size=32, mean=list(DIGITS_MEAN), std=list(DIGITS_STD), num_classes=10,
                                is_classifier=True, num_outputs=10, layer_names=CONTROL_LAYERS)
        with open(specs[name].spec.weights_path, "rb") as weights:
            model.weights.save(Path(weights.name).name, File(weights), save=False)
        model.save()
        return model

    return register


@pytest.fixture
def digits(researcher):
    """Ten held-out digits, one per category (folders 0-9 of the uploaded zip)."""
    return services.target_set_create(owner=researcher, name="digits", uploads=[("d.zip", demo_digits_zip())])


def judged_as_the_criterion_says(stimulus, criterion: dict) -> bool:
    """The criterion applied by hand to the stored measures and the null stored with the verdict."""
    row, null = stimulus.validity, stimulus.verdict["null"]
    within = row["rep_loss"] <= criterion["max_rep_loss"]
    valid = all(row[key] > null[key] for key in ("spearman", "pearson", "db_snr"))
    return within and valid and row["class_agrees"]


def test_an_adversarial_jobs_failing_iris_are_flagged_shown_and_kept_out_of_studies(
        client, api_as, researcher, control, digits, inline_tasks, django_capture_on_commit_callbacks):
    robust, observer = control("robust"), control("observer")
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/generation/generationjob/submit/", {
            **JOB_FORM, "layers": [f"{robust.pk}|avgpool"], "target_set": digits.pk, "loss": "adversarial",
            "iterations": 100, "perceptual": f"{observer.name}: layer1", "max_rep_loss": 0.15})

    job = GenerationJob.objects.get()
    assert job.status == JobStatus.DONE, job.error
    assert job.config["criterion"] == {"max_rep_loss": 0.15, "validity": True, "class_agreement": True,
                                       "null": "different_category"}
    stimuli = list(job.stimuli.all())
    assert len(stimuli) == 10
    for stimulus in stimuli:
        assert stimulus.passes is judged_as_the_criterion_says(stimulus, job.config["criterion"])
        assert stimulus.verdict["criterion"] == job.config["criterion"]
        assert (stimulus.verdict["null"]["kind"], stimulus.verdict["null"]["images"]) == ("different_category", 10)
        assert bool(stimulus.verdict["reasons"]) is not stimulus.passes
    failing = {s.pk for s in stimuli if not s.passes}
    passing = {s.pk for s in stimuli if s.passes}
    assert failing and passing  # 100 steps of the adversarial preset: some images stay outside the bound

    verdicts = api_as(researcher).get(f"/api/jobs/{job.pk}/").json()["verdicts"]
    assert (verdicts["passed"], verdicts["failed"], verdicts["unjudged"]) == (len(passing), len(failing), 0)
    assert verdicts["null_images"]["name"] == "digits"
    listing = client.get("/admin/generation/stimulus/?passes__exact=0").content.decode()
    assert "is above the bound 0.15" in listing or "is not above the null" in listing
    job_page = client.get(f"/admin/generation/generationjob/{job.pk}/change/").content.decode()
    assert "validity against the different_category null of &#x27;digits&#x27;" in job_page
    for stimulus in (stimuli[0], next(s for s in stimuli if not s.passes)):  # the null beside each verdict
        page = client.get(f"/admin/generation/stimulus/{stimulus.pk}/change/").content.decode()
        null = stimulus.verdict["null"]
        assert f"different_category null: {null['pairs']} pairs of 10 images" in page
        assert escape(stimulus.verdict["reasons"][0] if stimulus.verdict["reasons"] else "passes: L_rep") in page

    client.post(reverse("admin:studies_study_add"), {**STUDY_FORM, "name": "passing only", "jobs": [job.pk]})
    study = Study.objects.get(name="passing only")
    assert set(study.items.values_list("stimulus_id", flat=True)) == passing
    assert not study.includes_failing_iris
    results = client.get(reverse("scoring-study-results", args=[study.pk])).content.decode()
    row = re.search(r'<table id="iri-verdicts">.*?</table>', results, re.S).group(0)
    assert f'<td class="num failed">{len(failing)}</td>' in row


def test_a_researcher_may_survey_failing_iris_and_the_study_says_so(client, researcher):
    job = factories.finished_job(researcher, n_items=4)
    job.stimuli.update(passes=False)
    client.force_login(researcher)

    refused = client.post(reverse("admin:studies_study_add"), {**STUDY_FORM, "name": "none pass", "jobs": [job.pk]})
    assert refused.status_code == 200 and b"include failing IRIs" in refused.content
    assert not Study.objects.exists()

    client.post(reverse("admin:studies_study_add"), {**STUDY_FORM, "name": "all of them", "jobs": [job.pk],
                                                      "include_failing_iris": "on"})
    study = Study.objects.get(name="all of them")
    assert study.includes_failing_iris and study.items.count() == 4
    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()
    assert re.search(r'<table id="iris-verdicts">.*?<td>0</td><td>4</td><td>0</td><td>4</td>', page, re.S)
    manifest = list(csv.DictReader(io.StringIO(b"".join(client.get(
        reverse("scoring-study-stimuli", args=[study.pk])).streaming_content).decode())))
    assert [row["passes"] for row in manifest] == ["0"] * 4  # an analysis can tell them apart


def test_a_reference_null_is_recorded_and_named_beside_each_verdict(api_as, researcher, control, digits,
                                                                     inline_tasks, django_capture_on_commit_callbacks):
    standard = control("standard")
    reference = services.target_set_create(owner=researcher, name="reference digits",
                                           uploads=[("r.zip", demo_digits_zip(per_class=2))])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(researcher).post("/api/jobs/", {
            "model": standard.pk, "target_set": digits.pk, "null_reference": reference.pk,
            "config": {"layers": ["avgpool"], "iterations": 30, "precision": "fp32",
                       "criterion": {"null": "reference"}}}, format="json")

    assert response.status_code == 201, response.content
    job = GenerationJob.objects.get()
    assert job.status == JobStatus.DONE, job.error
    assert job.null_reference == reference
    assert job.config["criterion"] == {"max_rep_loss": 0.1, "validity": True, "class_agreement": True,
                                       "null": "reference"}
    assert {(s.verdict["null"]["kind"], s.verdict["null"]["images"]) for s in job.stimuli.all()} == {("reference", 20)}
    assert NullDistributionCache.objects.get().target_set == reference
    shown = api_as(researcher).get(f"/api/jobs/{job.pk}/").json()
    assert (shown["null_reference"], shown["verdicts"]["null_images"]["name"]) == (reference.pk, "reference digits")


def test_a_null_that_cannot_be_made_is_refused_before_anything_is_saved(api_as, researcher, control, digits):
    standard = control("standard")
    one_category = services.target_set_create(owner=researcher, name="only sevens", uploads=[
        ("s.zip", factories.zip_bytes({f"7/{i}.png": factories.png_bytes((i * 40, 90, 90)) for i in range(3)}))])
    api = api_as(researcher)

    asked = [({"layers": ["avgpool"], "criterion": {"null": "reference"}}, digits.pk, None),
             ({"layers": ["avgpool"]}, digits.pk, one_category.pk),
             ({"layers": ["avgpool"]}, one_category.pk, None)]
    answers = [api.post("/api/jobs/", {"model": standard.pk, "target_set": target_set, "config": config,
                                       "null_reference": reference}, format="json")
               for config, target_set, reference in asked]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert "choose both or neither" in answers[0].json()["detail"][0]
    assert "two natural images of different categories" in answers[2].json()["detail"][0]
    assert not GenerationJob.objects.exists()
