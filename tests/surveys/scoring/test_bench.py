"""The scoring benchmark runs end to end on a small study (the 1M-response run is `python -m bench scoring`)."""

import io

import pytest

from bench.scoring import bench_run

pytestmark = pytest.mark.django_db


def test_it_times_scoring_beside_a_single_sql_aggregate():
    out = io.StringIO()

    figures = bench_run(responses=4000, conditions=2, items=20, out=out)

    assert figures["responses"] == 4000
    assert figures["scoring_s"] > 0 and figures["sql_aggregate_s"] > 0
    assert "ratio scoring / aggregate" in out.getvalue()
