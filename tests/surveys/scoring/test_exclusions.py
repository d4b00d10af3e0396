"""Exclusions: rules per study, reasons per participant, pilots never scored, overrides with an audit trail."""

import pytest
from django.core.exceptions import ValidationError

from surveys.scoring import services
from surveys.scoring.models import DecisionSource, ExclusionDecision
from surveys.scoring.selectors import study_exclusions, study_report
from surveys.trials.models import ParticipantStatus
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


@pytest.fixture
def ruled(researcher):
    """Six IRIs, and every exclusion rule set."""
    made = factories.study(researcher, n_items=6)
    services.exclusion_rules_set(study=made, catch_min_accuracy=0.75, min_median_rt_ms=250,
                                 max_one_sided_share=0.9, qualification_min_correct=2)
    return made


def good(study, name, *, correct=True):
    who = planting.participant(study, name=name)
    planting.answers(study, who, correct=lambda index, _: correct if index % 3 else not correct,
                     catch=[True, True, True, True], qualification=[True, True, False])
    return who


def plant_bad_participants(study) -> dict[str, object]:
    bad = {name: planting.participant(study, name=name) for name in ("inattentive", "speeder", "one-sided", "gate")}
    planting.answers(study, bad["inattentive"], correct=lambda *_: True, catch=[False, False, True, False],
                     qualification=[True, True])
    planting.answers(study, bad["speeder"], correct=lambda *_: True, rt_ms=150.0, catch=[True] * 4,
                     qualification=[True, True])
    planting.answers(study, bad["one-sided"], correct=lambda i, _: i % 2 == 0, choice=lambda *_: 0,
                     catch=[True] * 4, qualification=[True, True])
    planting.answers(study, bad["gate"], correct=lambda *_: True, catch=[True] * 4, qualification=[True, False])
    return bad


def test_it_excludes_exactly_the_planted_bad_participants_with_their_reasons(ruled):
    kept = [good(ruled, f"good-{i}") for i in range(3)]
    bad = plant_bad_participants(ruled)

    decisions = {d.recruitment_id: d for d in study_exclusions(study=ruled)}

    assert {name for name, d in decisions.items() if d.excluded} == set(bad)
    assert "catch accuracy 0.25 < 0.75" in decisions["inattentive"].reason
    assert "median response time 150 ms < 250 ms" in decisions["speeder"].reason
    assert "one-sided" in decisions["one-sided"].reason
    assert "qualification gate (1 of 2 right < 2)" in decisions["gate"].reason
    assert all(not decisions[p.recruitment_id].excluded for p in kept)


def test_it_never_scores_pilot_or_unfinished_sessions(ruled):
    good(ruled, "real")
    pilot = planting.participant(ruled, name="pilot", is_pilot=True)
    planting.answers(ruled, pilot, correct=lambda *_: False)
    dropout = planting.participant(ruled, name="dropout", status=ParticipantStatus.CONSENTED)
    planting.answers(ruled, dropout, correct=lambda *_: False)

    report = study_report(study=ruled, resamples=50)

    assert [e.recruitment_id for e in report.exclusions] == ["real"]
    assert report.conditions_all[0].participants == 1
    assert report.conditions_all[0].alignment == pytest.approx(4 / 6)


def test_it_reports_every_score_with_and_without_exclusions(ruled):
    good(ruled, "good")
    plant_bad_participants(ruled)

    report = study_report(study=ruled, resamples=50)

    assert report.conditions[0].participants == 1
    assert report.conditions_all[0].participants == 5
    assert report.conditions[0].alignment == pytest.approx(4 / 6)
    assert report.conditions_all[0].alignment == pytest.approx((4 + 6 + 6 + 3 + 6) / 30)


def test_it_records_the_rules_decisions_once_in_an_append_only_trail(ruled):
    good(ruled, "good")
    plant_bad_participants(ruled)

    assert services.exclusions_apply(study=ruled) == 5
    assert services.exclusions_apply(study=ruled) == 0
    assert ExclusionDecision.objects.filter(study=ruled, excluded=True).count() == 4


def test_it_lets_a_researcher_override_a_decision_with_a_note_and_keeps_both(ruled, researcher):
    bad = plant_bad_participants(ruled)
    speeder = bad["speeder"]

    services.exclusion_override(study=ruled, participant=speeder, excluded=False, author=researcher,
                                note="Fast but accurate: a practised observer.")

    trail = list(ExclusionDecision.objects.filter(participant=speeder).order_by("pk"))
    assert [(row.source, row.excluded) for row in trail] == [(DecisionSource.RULES, True),
                                                             (DecisionSource.OVERRIDE, False)]
    assert trail[1].author == researcher and "practised" in trail[1].note
    decision = {d.recruitment_id: d for d in study_exclusions(study=ruled)}["speeder"]
    assert (decision.excluded, decision.source) == (False, DecisionSource.OVERRIDE)
    assert "median response time" in decision.reason  # what the rules said stays visible


def test_it_refuses_an_override_without_a_note(ruled, researcher):
    who = good(ruled, "good")

    with pytest.raises(ValidationError, match="note"):
        services.exclusion_override(study=ruled, participant=who, excluded=True, note="  ", author=researcher)
    assert not ExclusionDecision.objects.exists()


def test_it_refuses_a_rule_outside_its_range(ruled):
    with pytest.raises(ValidationError):
        services.exclusion_rules_set(study=ruled, catch_min_accuracy=1.5)


def test_it_takes_the_qualification_gate_from_the_design_when_no_rules_were_set(researcher):
    made = factories.study(researcher, n_items=3, design={"gate": {"trials": 3, "pass": 2}})
    who = planting.participant(made, name="failed")
    planting.answers(made, who, correct=lambda *_: True, qualification=[True, False, False])

    [decision] = study_exclusions(study=made)

    assert decision.excluded and "qualification" in decision.reason
