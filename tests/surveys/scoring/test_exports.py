"""The exported CSVs, read back with pandas, reproduce every reported score."""

import io

import numpy as np
import pandas as pd
import pytest

from surveys.scoring import services
from surveys.scoring.bootstrap import crossed_counts, share_interval
from surveys.scoring.data import table_from_rows
from surveys.scoring.exports import FORMULA_STARTS, _cell
from surveys.scoring.report import ConditionMeta, condition_scores
from surveys.scoring.selectors import BOOTSTRAP_SEED
from surveys.studies.models import new_public_id
from surveys.trials import services as trials
from surveys.trials.models import Response, Trial, new_token, new_trial_id
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
RESAMPLES = 200


@pytest.fixture
def api(researcher, api_as):
    return api_as(researcher)


def read_csv(api, url: str) -> pd.DataFrame:
    response = api.get(url)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    return pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))


def two_condition_study(researcher):
    study = factories.study(researcher, n_items=5, jobs=2)
    services.exclusion_rules_set(study=study, min_median_rt_ms=250, catch_min_accuracy=None)
    first, second = study.conditions.values_list("pk", flat=True)
    planting.crowd(study, accuracy={first: 0.8, second: 0.3}, n=7, seed=3, catch=[True, False])
    planting.crowd(study, accuracy={first: 0.0, second: 1.0}, n=2, seed=4, rt_ms=100.0)  # speeders
    pilot = planting.participant(study, is_pilot=True)
    planting.answers(study, pilot, correct=lambda *_: True)
    return study


def pandas_scores(frame: pd.DataFrame, *, with_exclusions: bool) -> pd.DataFrame:
    rows = frame[(frame.kind == "main") & (frame.participant_status == "completed") & (frame.is_pilot == 0)]
    if with_exclusions:
        rows = rows[rows.excluded == 0]
    per_participant = rows.groupby(["condition_id", "participant_id"]).correct.mean()
    items = rows.groupby(["condition_id", "item_id"]).correct.mean()
    return pd.DataFrame({
        "score": rows.groupby("condition_id").correct.mean(),
        "trials": rows.groupby("condition_id").size(),
        "participants": rows.groupby("condition_id").participant_id.nunique(),
        "item_majority": (items > 0.5).groupby("condition_id").mean(),
        "participant_mean": per_participant.groupby("condition_id").mean(),
        "participant_sem": per_participant.groupby("condition_id").sem(),
    })


def test_it_exports_one_tidy_row_per_response(api, researcher):
    study = two_condition_study(researcher)

    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    assert len(frame) == 7 * 12 + 2 * 10 + 10
    assert frame.response_id.is_unique
    speeders = frame[frame.rt_ms == 100.0]
    assert set(speeders.excluded) == {1} and speeders.exclusion_reason.str.contains("median response time").all()
    assert set(frame[frame.kind == "catch"].condition_id.isna()) == {True}
    assert frame.session.str.startswith("session-").all()
    assert frame.timings.str.contains("onset_ms").all()


def test_it_reproduces_every_reported_score_from_the_exported_csv(api, researcher):
    study = two_condition_study(researcher)
    report = api.get(f"/api/studies/{study.pk}/report/").json()
    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    assert report["comparisons"][0]["difference"] != report["comparisons_without_exclusions"][0]["difference"]
    for key, with_exclusions in (("conditions", True), ("conditions_without_exclusions", False)):
        expected = pandas_scores(frame, with_exclusions=with_exclusions)
        for score in report[key]:
            row = expected.loc[score["condition_id"]]
            for column in expected.columns:
                assert score[column] == pytest.approx(row[column]), (key, column)
        comparisons = report["comparisons" if with_exclusions else "comparisons_without_exclusions"]
        [pair] = comparisons
        assert pair["difference"] == pytest.approx(
            expected.score[pair["a"]] - expected.score[pair["b"]])


def test_it_marks_scored_only_the_main_trials_the_scores_use(api, researcher):
    study = two_condition_study(researcher)
    report = api.get(f"/api/studies/{study.pk}/report/").json()
    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    scored = frame[frame.scored == 1]
    assert set(scored.kind) == {"main"} and set(frame[frame.kind == "catch"].scored) == {0}
    expected = scored.groupby("condition_id").correct.mean()
    assert {s["condition_id"]: s["score"] for s in report["conditions"]} == pytest.approx(expected.to_dict())


def test_practice_gate_and_catch_rows_of_the_default_design_are_never_scored(api, researcher):
    # The design a study gets by default (practice, a gate, catch trials), taken through the participant
    # endpoints by someone who answers every check right, so the gate and the catch rule let them in.
    study = services.study_create(owner=researcher, jobs=[factories.finished_job(researcher, n_items=4)])
    who = planting.through_endpoints(study, pid="attentive", choose=lambda trial: trial.layout_spec.answer)

    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    assert who.status == "completed" and set(frame.excluded) == {0}
    assert set(frame.kind) == {"practice", "qualification", "catch", "main"}
    assert frame.scored.tolist() == (frame.kind == "main").astype(int).tolist()


def test_a_classification_row_names_the_category_the_participant_chose(api, researcher):
    study = factories.study(researcher, n_items=4, paradigm="classification")
    who = trials.participant_enter(study=study, source="plain", recruitment_id="p", recruitment_data={})
    shown = {t.public_id: t.layout_spec.labels for t in Trial.objects.filter(participant=who)}
    Response.objects.bulk_create(Response(trial=t, idempotency_key=t.public_id, choice=1, rt_ms=500.0)
                                 for t in Trial.objects.filter(participant=who))

    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    assert len(frame) == 4 and all(len(labels) == 4 for labels in shown.values())
    assert frame.chosen_category.tolist() == [shown[trial][1] for trial in frame.trial_id]
    assert set(frame.chosen_category) <= set(factories.CATEGORIES)


def test_it_reproduces_the_intervals_from_the_exported_csv(api, researcher):
    study = two_condition_study(researcher)
    reported = {s["condition_id"]: s for s in api.get(f"/api/studies/{study.pk}/report/").json()["conditions"]}
    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")
    rows = frame[(frame.participant_status == "completed") & (frame.is_pilot == 0) & (frame.excluded == 0)]
    columns = ["participant_id", "kind", "condition_id", "item_id", "correct", "choice", "rating", "rt_ms"]
    kinds = {"main": 0, "practice": 1, "catch": 2, "qualification": 3}
    table = table_from_rows(rows.assign(kind=rows.kind.map(kinds))[columns].to_numpy(dtype=float))

    again = condition_scores(table, [ConditionMeta(c, "") for c in sorted(reported)], paradigm="2afc",
                             chance=0.5, seed=BOOTSTRAP_SEED)

    for score in again:
        assert (score.ci_low, score.ci_high) == pytest.approx(
            (reported[score.condition_id]["ci_low"], reported[score.condition_id]["ci_high"]))


def test_it_exports_a_stimulus_manifest(api, researcher):
    study = two_condition_study(researcher)

    manifest = read_csv(api, f"/api/studies/{study.pk}/stimuli.csv")
    responses = read_csv(api, f"/api/studies/{study.pk}/responses.csv")

    assert len(manifest) == study.items.count()
    assert set(responses.stimulus_id.dropna()) == set(manifest.stimulus_id)
    assert set(manifest.loss) == {"reg_free"} and manifest.iri_file.str.endswith(".png").all()


def test_it_scores_classification_against_one_over_k(api, researcher):
    study = factories.study(researcher, n_items=4, paradigm="classification")
    study.design = {**study.design, "k": 16}  # more categories than these IRIs have: chance stays 1/16
    study.save()
    planting.crowd(study, accuracy={study.conditions.get().pk: 0.5}, n=4, seed=1)

    [score] = api.get(f"/api/studies/{study.pk}/scores/").json()

    assert score["chance"] == pytest.approx(1 / 16)
    assert score["participant_sem"] is not None


def test_it_scores_similarity_as_a_mean_rating_with_its_interval(api, researcher):
    study = factories.study(researcher, n_items=4, paradigm="similarity")
    for rating in (2, 4, 6):
        who = planting.participant(study)
        planting.answers(study, who, correct=lambda *_: None, rating=lambda *_, r=rating: r)

    [score] = api.get(f"/api/studies/{study.pk}/scores/").json()
    hits, totals = crossed_counts(np.repeat([1, 2, 3], 4), np.tile([1, 2, 3, 4], 3), np.repeat([2.0, 4, 6], 4))

    assert (score["score_name"], score["measure"], score["score"]) == ("mean_rating", "mean rating (1-7)",
                                                                       pytest.approx(4.0))
    assert score["ci_low"] < 4.0 < score["ci_high"]
    frame = read_csv(api, f"/api/studies/{study.pk}/responses.csv")
    assert frame[frame.scored == 1].rating.mean() == pytest.approx(score["score"])  # as the README says
    assert share_interval(hits, totals, resamples=50, rng=np.random.default_rng(0)).estimate == pytest.approx(4.0)
    assert score["item_majority"] is None


@pytest.mark.parametrize("mint", [new_trial_id, new_token, new_public_id])
def test_no_id_iris_mints_reads_as_a_formula_so_exports_carry_ids_unchanged(mint):
    """An export neutralises a cell that starts like a formula ("-...") with an apostrophe; an id that
    started so would no longer match its row (one in 32 of token_urlsafe's did)."""
    minted = [mint() for _ in range(3000)]

    assert [token for token in minted if token.startswith(FORMULA_STARTS) or token.startswith("_")] == []
    assert all(_cell(token) == token for token in minted)
