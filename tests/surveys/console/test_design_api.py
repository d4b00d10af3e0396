"""A study's design over the API: its owner changes it until the first participant (not a pilot)
starts; then a change is a 409 that changes nothing, and every participant records the version they saw."""

import pytest

from surveys.trials import services as trials
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def test_the_owner_changes_the_design_until_a_participant_starts_then_gets_409(api_as, researcher, other_researcher):
    study = factories.study(researcher, n_items=4, paradigm="similarity")
    url = f"/api/studies/{study.pk}/design/"
    owner = api_as(researcher)

    assert api_as(other_researcher).patch(url, {"design": {"catch_every": 3}}, format="json").status_code == 404
    assert owner.patch(url, {"design": {"catch_every": -3}}, format="json").status_code == 400
    changed = owner.patch(url, {"design": {"catch_every": 3}, "scale_low_label": "not alike"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["design"]["catch_every"], changed.json()["design_version"]) == (3, 2)
    participant = trials.participant_enter(study=study, source="plain", recruitment_id="p", recruitment_data={})

    frozen = owner.patch(url, {"design": {"catch_every": 9}, "instructions": "Other words."}, format="json")

    assert frozen.status_code == 409 and "frozen" in frozen.json()["detail"][0]
    state = owner.get(url).json()
    assert (state["frozen"], state["design"]["catch_every"], state["scale_low_label"]) == (True, 3, "not alike")
    assert participant.study_version.number == state["design_version"] == 2
