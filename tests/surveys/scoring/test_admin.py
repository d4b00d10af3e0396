"""Exclusion rules and the audit trail in admin: a researcher sets rules on their own studies only."""

import pytest
from django.urls import reverse

from surveys.scoring import services
from surveys.scoring.models import ExclusionRules
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


def test_it_saves_the_rules_a_researcher_sets_in_admin(client):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2)  # made with its default rules
    client.force_login(researcher)

    response = client.post(reverse("admin:scoring_exclusionrules_change", args=[study.exclusion_rules.pk]), {
        "study": study.pk, "catch_min_accuracy": "0.8", "min_median_rt_ms": "", "max_one_sided_share": "0.9",
        "qualification_min_correct": "", "target_ci_width": "0.1"})

    assert response.status_code == 302, response.content.decode()[-2000:]
    rules = ExclusionRules.objects.get(study=study)
    assert (rules.catch_min_accuracy, rules.min_median_rt_ms, rules.target_ci_width) == (0.8, None, 0.1)


def test_it_shows_a_researcher_only_the_audit_trail_of_their_own_studies(client):
    researcher, other = factories.researcher("researcher"), factories.researcher("other-researcher")
    study = factories.study(researcher, n_items=2)
    planting.crowd(study, accuracy={study.conditions.get().pk: 1.0}, n=2)
    services.exclusions_apply(study=study)

    client.force_login(other)
    hidden = client.get(reverse("admin:scoring_exclusiondecision_changelist"))
    client.force_login(researcher)
    shown = client.get(reverse("admin:scoring_exclusiondecision_changelist"))

    assert "0 exclusion decisions" in hidden.content.decode()
    assert "2 exclusion decisions" in shown.content.decode()
