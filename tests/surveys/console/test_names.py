"""Names that say what they are: a score is called what its paradigm measures, wherever a researcher
reads it; participants read their own paradigm's instructions; admin's pages show text, not markup."""

import json
import re

import pytest
from django.urls import reverse

from surveys.generation.models import GenerationBatch, JobStatus
from surveys.studies.paradigms import PARADIGMS
from surveys.studies.richtext import rich_text_render
from surveys.trials import services as trials
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


def test_a_similarity_studys_score_is_a_mean_rating_in_admin_and_on_the_results_page(client, researcher):
    study = factories.study(researcher, n_items=4, paradigm="similarity")
    planting.answers(study, planting.participant(study), correct=lambda *_: None, rating=lambda *_: 5)
    client.force_login(researcher)

    admin_page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()
    results = client.get(reverse("scoring-study-results", args=[study.pk])).content.decode()

    assert "<th>mean rating (1-7)</th>" in admin_page
    assert "share choosing the target" not in admin_page and "alignment" not in admin_page.lower()
    assert "mean rating (1-7) [95% CI]" in results


def test_a_classification_studys_score_is_accuracy_in_the_api(api_as, researcher):
    study = factories.study(researcher, n_items=4, paradigm="classification")
    planting.answers(study, planting.participant(study), correct=lambda index, _: index % 2 == 0)

    [score] = api_as(researcher).get(f"/api/studies/{study.pk}/scores/").json()
    report = api_as(researcher).get(f"/api/studies/{study.pk}/report/").json()

    assert (score["score_name"], score["measure"], score["score"]) == ("accuracy", "accuracy (share correct)", 0.5)
    assert "alignment" not in score and report["score_name"] == "accuracy"


@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_participants_read_the_instructions_prompt_and_scale_of_their_own_paradigm(anonymous, researcher, paradigm):
    study = factories.study(researcher, n_items=4, paradigm=paradigm)
    participant = trials.participant_enter(study=study, source="plain", recruitment_id="p", recruitment_data={})
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.CONSENTED)

    page = anonymous.get(reverse("trials:participant", args=[participant.token])).content.decode()
    config = json.loads(re.search(r'<script id="iris-config" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))

    # The page gets the paradigm's text as the sanitised HTML its Markdown renders to.
    assert config["instructionsHtml"] == rich_text_render(text=PARADIGMS[paradigm].instructions)
    assert config["prompt"] == PARADIGMS[paradigm].prompt
    assert config["scaleLabels"] == list(PARADIGMS[paradigm].scale_labels)
    says_f_and_j = "<strong>F</strong>" in config["instructionsHtml"]
    assert says_f_and_j == (paradigm == "2afc")


def test_the_job_form_and_page_show_text_not_markup(client, researcher):
    job = factories.finished_job(researcher)
    GenerationBatch.objects.create(job=job, index=0, layer="layer2", target_ids=[], status=JobStatus.DONE)
    client.force_login(researcher)

    form = client.get(reverse("admin:generation_job_submit")).content.decode()
    job_page = client.get(reverse("admin:generation_generationjob_change", args=[job.pk])).content.decode()

    assert "&lt;code&gt;" not in form and "&amp;le;" not in form and "D(IRI, target) ≤ D(IRI, seed)" in form
    assert "Generation batches" in job_page and "batchs" not in job_page.lower()
    assert 'id="batches-group"' in job_page  # a researcher sees the batches too, not only a superuser


def test_the_results_page_names_the_rules_in_force_and_no_others(client, researcher):
    study = factories.study(researcher, n_items=4)  # made with its catch-accuracy rule
    client.force_login(researcher)
    results = reverse("scoring-study-results", args=[study.pk])

    ruled = client.get(results).content.decode()
    study.exclusion_rules.delete()
    bare = client.get(results).content.decode()

    rules_line = re.compile(r'<p id="rules">(.*?)</p>', re.S)
    assert "catch-trial accuracy below 0.75;" in rules_line.search(ruled).group(1)
    assert "median response time" not in rules_line.search(ruled).group(1)
    assert rules_line.search(bare).group(1).split(":")[-1].split() == ["none"]
