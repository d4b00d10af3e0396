"""A study's design as a typed spec: parsed once, every default in one place, one error naming the
option at fault, the same design back from its JSON."""

import json

import pytest

from surveys.common.specs import SpecError
from surveys.studies.design import StudyDesign
from surveys.studies.paradigms import PARADIGMS, RATING_MIDPOINT, Paradigm


@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_a_design_comes_back_the_same_from_its_json(paradigm):
    given = {"practice": True, "gate": {"trials": 12, "pass": 7}, "catch_every": 4, "once_per_target": True}

    design = StudyDesign.from_dict(given, paradigm=paradigm)

    assert StudyDesign.from_dict(json.loads(json.dumps(design.to_dict())), paradigm=paradigm) == design
    assert design.gate.pass_mark == 7 and design.practice_trials == 3


def test_each_paradigm_stores_its_own_options_with_their_defaults():
    stored = {paradigm: set(StudyDesign.from_dict({}, paradigm=paradigm).to_dict()) for paradigm in PARADIGMS}
    common = stored[Paradigm.SIMILARITY]

    assert stored[Paradigm.TWO_AFC] - common == {"foils"}
    assert stored[Paradigm.MATCHING] - common == {"k"}
    assert stored[Paradigm.CLASSIFICATION] - common == {"k", "fixation_ms", "stimulus_ms", "mask_ms"}
    assert StudyDesign.from_dict({}, paradigm=Paradigm.MATCHING).k == 3
    assert StudyDesign.from_dict({}, paradigm=Paradigm.CLASSIFICATION).timing.stimulus_ms == 300


@pytest.mark.parametrize(("paradigm", "design", "named"), [
    ("matching", {"k": 1}, "k must be"),
    ("matching", {"k": None}, "k must be"),
    ("2afc", {"gate": {"trials": 2, "pass": 3}}, "gate cannot"),
    ("2afc", {"gate": {"trials": 2}}, "gate must be"),
    ("2afc", {"foils": "noise"}, "foils must be"),
    ("2afc", {"colour": "red"}, "colour"),
    ("2afc", {"k": 3}, "k"),
    ("2afc", {"catch_every": -1}, "catch_every must be"),
    ("2afc", {"practice": "yes"}, "practice must be"),
    ("classification", {"stimulus_ms": 0}, "stimulus_ms must be"),
    ("rating", {}, "paradigm"),
])
def test_it_refuses_a_bad_design_naming_the_option(paradigm, design, named):
    with pytest.raises(SpecError, match=named):
        StudyDesign.from_dict(design, paradigm=paradigm)


def test_the_paradigm_table_gives_options_and_chance():
    def design(paradigm, **options):
        return StudyDesign.from_dict(options, paradigm=paradigm)

    assert [design(p).image_options for p in ("2afc", "similarity", "matching", "classification")] == [2, 2, 3, 0]
    assert design("2afc").chance(categories=16) == 0.5
    assert design("matching", k=4).chance(categories=16) == 0.25
    assert design("classification").chance(categories=16) == 1 / 16
    assert design("classification", k=4).chance(categories=16) == 0.25
    assert design("similarity").chance(categories=16) == RATING_MIDPOINT == 4
    assert [design("2afc").targets_per_trial, design("2afc", foils="other_target").targets_per_trial,
            design("matching", k=5).targets_per_trial, design("similarity").targets_per_trial] == [1, 2, 5, 2]
