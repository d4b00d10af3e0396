"""A trial's layout as a typed spec: the stored JSON round trip, slots, and what counts as right."""

import json

import pytest

from surveys.common.specs import SpecError
from surveys.trials.layout import ImageRef, TrialLayout


def test_a_layout_comes_back_the_same_from_its_json():
    layouts = [TrialLayout(query=ImageRef("iri", 7), options=(ImageRef("target", 7), ImageRef("seed", 7)), answer=0),
               TrialLayout(query=ImageRef("target", 3), labels=("bird", "car"), answer=1),
               TrialLayout(options=(ImageRef("target", 3), ImageRef("target", 3)), anchor="identical")]

    for layout in layouts:
        assert TrialLayout.from_dict(json.loads(json.dumps(layout.to_dict()))) == layout


def test_it_reads_the_json_trials_were_frozen_with():
    stored = {"query": ["iri", 5], "options": None, "labels": ["bird", "car", "dog"], "answer": 2}

    layout = TrialLayout.from_dict(stored)

    assert layout.to_dict() == stored
    assert (layout.choices, layout.image("q"), layout.image("0")) == (3, ImageRef("iri", 5), None)


def test_it_knows_what_is_right():
    choice = TrialLayout(query=ImageRef("iri", 1), options=(ImageRef("seed", 1), ImageRef("target", 1)), answer=1)
    identical = TrialLayout(options=(ImageRef("target", 2),) * 2, anchor="identical")
    unrelated = TrialLayout(options=(ImageRef("target", 2), ImageRef("target", 3)), anchor="unrelated")

    assert (choice.is_correct(choice=1, rating=None), choice.is_correct(choice=0, rating=None)) == (True, False)
    assert [identical.is_correct(choice=None, rating=r) for r in (4, 5)] == [False, True]
    assert [unrelated.is_correct(choice=None, rating=r) for r in (3, 4)] == [True, False]
    assert TrialLayout(options=choice.options).is_correct(choice=None, rating=6) is None


@pytest.mark.parametrize(("stored", "named"), [
    ({"query": ["iri"], "options": None, "answer": None}, "query"),
    ({"query": ["logo", 3], "options": None, "answer": None}, "query role"),
    ({"query": None, "options": [["target", 1]], "answer": 1}, "answer 1"),
    ({"query": None, "options": [["target", 1]], "answer": None, "side": "left"}, "side"),
])
def test_it_refuses_a_malformed_layout_naming_the_field(stored, named):
    with pytest.raises(SpecError, match=named):
        TrialLayout.from_dict(stored)
