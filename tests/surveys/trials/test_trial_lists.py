"""The frozen trial list: Latin-square rows, once-per-target, counterbalanced sides, check trials."""

import random
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from surveys.trials import services
from surveys.trials.assignment import study_pieces, trials_build
from surveys.trials.models import Participant, TrialKind
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def build(study, *, row=0, seed=1):
    participant = Participant(study=study, recruitment_id="x")
    return trials_build(participant=participant, pieces=study_pieces(study=study), row=row, rng=random.Random(seed))


def latin_study(**design):
    return factories.study(factories.researcher(), n_items=6, layers=("layer2", "layer3", "layer4"),
                           design={"once_per_target": True, **design})


def test_it_shows_each_target_once_per_participant_in_the_condition_its_row_gives():
    study = latin_study()

    rows = [build(study, row=row) for row in range(3)]

    for trials in rows:
        targets = [t.item.stimulus.target_id for t in trials]
        assert len(targets) == len(set(targets)) == 6
        assert Counter(t.condition_id for t in trials) == {c.pk: 2 for c in study.conditions.all()}
    # Across the three rows every (target, condition) cell is seen exactly once.
    cells = Counter((t.item.stimulus.target_id, t.condition_id) for trials in rows for t in trials)
    assert len(cells) == 18 and set(cells.values()) == {1}


def test_it_balances_the_side_of_the_right_option():
    study = factories.study(factories.researcher(), n_items=8)

    trials = build(study)

    assert Counter(t.layout["answer"] for t in trials) == {0: 4, 1: 4}
    assert all(t.target_on_left == (t.layout["answer"] == 0) for t in trials)


def test_it_puts_practice_then_the_gate_before_a_main_block_with_catch_trials():
    study = factories.study(factories.researcher(), n_items=8, design={
        "practice": True, "practice_trials": 2, "gate": {"trials": 3, "pass": 2}, "catch_every": 4})

    kinds = [t.kind for t in build(study)]

    assert kinds[:5] == [TrialKind.PRACTICE] * 2 + [TrialKind.QUALIFICATION] * 3
    assert Counter(kinds[5:]) == {TrialKind.MAIN: 8, TrialKind.CATCH: 2}


def test_a_catch_trial_shows_a_query_identical_to_one_option():
    study = factories.study(factories.researcher(), n_items=4, design={"catch_every": 1})

    catch = [t for t in build(study) if t.kind == TrialKind.CATCH]

    assert catch and all(t.layout["options"][t.layout["answer"]] == t.layout["query"] for t in catch)


def test_2afc_can_oppose_the_target_with_another_target_of_the_same_set():
    study = factories.study(factories.researcher(), n_items=4, design={"foils": "other_target"})

    for trial in build(study):
        foil = trial.layout["options"][1 - trial.layout["answer"]]
        assert foil[0] == "target" and foil[1] != trial.item.stimulus_id


def test_matching_offers_k_different_targets_including_the_iris_own():
    study = factories.study(factories.researcher(), n_items=6, paradigm="matching", design={"k": 4})

    for trial in build(study):
        options = trial.layout["options"]
        assert len({tuple(o) for o in options}) == 4
        assert options[trial.layout["answer"]] == ["target", trial.item.stimulus_id]


def test_classification_offers_the_categories_in_a_fixed_order_and_knows_the_right_one():
    study = factories.study(factories.researcher(), n_items=8, paradigm="classification")

    for trial in build(study):
        assert trial.layout["labels"] == sorted(factories.CATEGORIES)
        assert trial.layout["labels"][trial.layout["answer"]] == trial.item.stimulus.target.category


def test_similarity_anchors_alternate_identical_and_unrelated_pairs():
    study = factories.study(factories.researcher(), n_items=4, paradigm="similarity",
                            design={"practice": True, "practice_trials": 2})

    practice = [t for t in build(study) if t.kind == TrialKind.PRACTICE]

    assert [t.layout["anchor"] for t in practice] == ["identical", "unrelated"]
    assert practice[0].layout["options"][0] == practice[0].layout["options"][1]


def test_the_stored_design_never_changes_and_has_every_default():
    study = factories.study(factories.researcher(), paradigm="classification")

    assert study.design["fixation_ms"] == study.design["stimulus_ms"] == study.design["mask_ms"] == 300
    participant = services.participant_enter(study=study, source="plain", recruitment_id="a", recruitment_data={})
    assert list(participant.trials.values_list("layout", flat=True)) == [t.layout for t in participant.trials.all()]


def test_it_refuses_a_design_the_iris_cannot_fill():
    owner = factories.researcher()
    with pytest.raises(ValidationError):
        factories.study(owner, n_items=2, paradigm="matching", design={"k": 3})
