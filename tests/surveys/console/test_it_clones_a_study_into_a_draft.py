"""Cloning a study: admin's list action "Clone into a new draft" and POST /api/studies/<id>/clone/ copy
everything the researcher configured (design and questions, texts and debrief, conditions and their
IRIs, exclusion rules, completion URL) into a closed draft of their own at version 1, editable again,
with none of the original's participants; only the owner may clone a study."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from surveys.scoring import services as scoring
from surveys.studies import services as studies
from surveys.studies.models import STUDY_TEXTS, Study, StudyStatus
from surveys.trials import services as trials
from tests.surveys import factories
from tests.surveys.admin_coverage import submits

pytestmark = pytest.mark.django_db

QUESTION = {"id": "age", "kind": "number", "prompt": "How old are you?", "min": 18, "max": 99}
# Everything a researcher configures on a study besides its jobs: what a clone must carry over.
CONFIGURED = ("paradigm", "design", "includes_failing_iris", "completion_url", *STUDY_TEXTS)


@pytest.fixture
def launched(researcher):
    """A configured study a participant has started: its design is frozen."""
    study = factories.study(researcher, n_items=3, paradigm="similarity", completion_url="https://example.org/{code}",
                            design={"gate": {"trials": 2, "pass": 1}, "questions_before": [QUESTION]})
    study = studies.study_update(study=study, editor=researcher, consent_text="Our consent.",
                                 debrief_text="What it was about.", scale_low_label="apart")
    scoring.exclusion_rules_set(study=study, min_median_rt_ms=250.0, max_focus_lost_share=0.2)
    trials.participant_enter(study=study, source="plain", recruitment_id="p1", recruitment_data={})
    return study


def configured(study: Study) -> dict:
    return {name: getattr(study, name) for name in CONFIGURED}


def conditions_and_iris(study: Study) -> list[tuple]:
    return [(c.job_id, c.layer, c.label, list(c.items.order_by("pk").values_list("stimulus_id", flat=True)))
            for c in study.conditions.order_by("pk")]


def rules_of(study: Study) -> dict:
    return {name: getattr(study.exclusion_rules, name) for name in scoring.RULE_FIELDS}


def assert_a_draft_of(copy: Study, original: Study, *, owner) -> None:
    assert (copy.owner, copy.status, copy.name) == (owner, StudyStatus.CLOSED, f"{original.name} (copy)")
    assert configured(copy) == configured(original)
    assert conditions_and_iris(copy) == conditions_and_iris(original)
    assert list(copy.jobs.all()) == list(original.jobs.all())
    assert rules_of(copy) == rules_of(original)
    assert (copy.participants.count(), copy.design_version) == (0, 1)
    assert [(v.number, v.created_by, v.consent_text) for v in copy.versions.all()] == [(1, owner, "Our consent.")]
    assert copy.public_id != original.public_id and copy.completion_code != original.completion_code


@submits("studies.study", "clone_studies")
def test_the_admin_action_clones_the_researchers_study_and_leaves_anothers_alone(client, researcher,
                                                                                  other_researcher, launched):
    theirs = factories.study(other_researcher)
    client.force_login(researcher)

    done = client.post(reverse("admin:studies_study_changelist"),
                       {"action": "clone_studies", "_selected_action": [launched.pk, theirs.pk]}, follow=True)

    copy = Study.objects.get(name=f"{launched.name} (copy)")
    assert_a_draft_of(copy, launched, owner=researcher)
    assert Study.objects.filter(owner=other_researcher).count() == 1
    [message] = [str(m) for m in done.context["messages"]]
    assert reverse("admin:studies_study_change", args=[copy.pk]) in message
    edited = studies.study_update(study=copy, editor=researcher, design={**copy.design, "catch_every": 4})
    assert (edited.design["catch_every"], edited.design_version) == (4, 2)  # the draft's design is editable
    assert launched.participants.count() == 1 and Study.objects.get(pk=launched.pk).status == StudyStatus.OPEN


def test_a_superuser_who_sees_every_study_still_cannot_clone_anothers(client, superuser, launched):
    client.force_login(superuser)

    done = client.post(reverse("admin:studies_study_changelist"),
                       {"action": "clone_studies", "_selected_action": [launched.pk]}, follow=True)

    assert [str(m) for m in done.context["messages"]] == [f"{launched}: You can only clone your own studies."]
    assert Study.objects.count() == 1


def test_the_owner_clones_over_the_api_and_nobody_else_can(api_as, researcher, other_researcher, launched):
    url = f"/api/studies/{launched.pk}/clone/"

    assert api_as(other_researcher).post(url).status_code == 404
    assert APIClient().post(url).status_code == 401
    assert Study.objects.count() == 1
    made = api_as(researcher).post(url)

    assert made.status_code == 201, made.content
    copy = Study.objects.get(pk=made.json()["id"])
    assert_a_draft_of(copy, launched, owner=researcher)
    assert (made.json()["status"], made.json()["participant_link"].endswith(f"/s/{copy.public_id}/")) == (
        "closed", True)
    design = api_as(researcher).patch(f"/api/studies/{copy.pk}/design/", {"design": {**copy.design, "catch_every": 3}},
                                      format="json")
    assert design.status_code == 200  # the original's design is frozen; the draft's is not
