"""A study built from an imported stimulus set completes in Chromium (docs/stimulus-import.md).

A researcher imports a zip made elsewhere over the REST API and builds a 2AFC study from it; a
scripted participant takes it in headless Chromium, choosing the target in one condition and the seed
in the other; what the server stored, scored and exports is what the participant did, and the proxy
score, which IRIS never measured for these images, is reported absent.
"""

import csv
import io

import pytest

from surveys.trials.models import Participant, ParticipantStatus, Response, TrialKind
from tests.surveys import factories
from tests.surveys.browser import fresh_contexts
from tests.surveys.trials.scripted import Script, enter, run_through

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
TARGETS = 3
DESIGN = {"practice": True, "practice_trials": 2, "gate": None, "catch_every": 3}


def chosen_by_condition(trial) -> int:
    """The target on cond-0's trials and on practice and catch trials; the seed on cond-1's."""
    answer = trial.layout["answer"]
    return 1 - answer if trial.condition and trial.condition.layer == "cond-1" else answer


def test_a_study_built_from_an_imported_stimulus_set_completes_in_chromium(live_server, researcher, api_as, shared_chromium):
    api = api_as(researcher)
    archive = io.BytesIO(factories.stimulus_set_zip(*factories.stimulus_set(conditions=2, targets=TARGETS, size=64)))
    archive.name = "made-elsewhere.zip"
    imported = api.post("/api/stimulus-sets/", {"name": "made elsewhere", "file": archive}, format="multipart")
    assert imported.status_code == 201, imported.content
    made = api.post("/api/studies/", {"name": "imported 2afc", "jobs": [imported.json()["id"]], "paradigm": "2afc",
                                      "design": DESIGN}, format="json")
    assert made.status_code == 201, made.content
    study_id, public_id = made.json()["id"], made.json()["public_id"]
    script = Script(decide=chosen_by_condition, wait_ms=150)

    with fresh_contexts(shared_chromium) as browser:
        page = browser.new_page()
        script.watch(page)
        enter(page, f"{live_server.url}/s/{public_id}/")
        run_through(page, script)
        code = page.inner_text("#completion-code")

    assert script.errors == []
    participant = Participant.objects.get(study_id=study_id)
    assert (participant.status, code) == (ParticipantStatus.COMPLETED, participant.study.completion_code)
    stored = {r.trial.public_id: r for r in Response.objects.filter(trial__participant=participant)
              .select_related("trial__condition")}
    assert {trial: r.choice for trial, r in stored.items()} == {a.trial_id: a.value for a in script.actions}
    main = [r for r in stored.values() if r.trial.kind == TrialKind.MAIN]
    assert sorted((r.trial.condition.layer, r.chose_target) for r in main) == [("cond-0", True)] * TARGETS + [
        ("cond-1", False)] * TARGETS
    assert {r.trial.kind for r in stored.values()} == {TrialKind.PRACTICE, TrialKind.MAIN, TrialKind.CATCH}

    scores = {s["label"]: s["score"] for s in api.get(f"/api/studies/{study_id}/scores/").json()}
    assert scores == {"cond-0 (model-0 / layer3)": 1.0, "cond-1 (model-1 / layer3)": 0.0}
    rows = list(csv.DictReader(io.StringIO(b"".join(api.get(f"/api/studies/{study_id}/responses.csv")
                                                    .streaming_content).decode())))
    assert sorted(row["condition_label"] for row in rows if row["kind"] == "main") == sorted(
        ["cond-0 (model-0 / layer3)"] * TARGETS + ["cond-1 (model-1 / layer3)"] * TARGETS)
    proxies = api.get(f"/api/studies/{study_id}/report/").json()["proxies"]
    assert [(p["items"], p["mean"]) for p in proxies] == [(0, None), (0, None)]
