"""The reproduction kit runs the papers' settings on downloaded checkpoints; CI runs it on the
tiny control networks with few steps."""

from __future__ import annotations

import json

import pytest

from iri_engine.controls import write_control_manifest
from iri_engine.reproduce import PAPERS, main


@pytest.mark.parametrize("paper", ["nanda", "feather"])
def test_it_writes_the_papers_table_with_this_runs_numbers(tmp_path, paper):
    write_control_manifest(tmp_path / "checkpoints")
    status = main([paper, "--checkpoints", str(tmp_path / "checkpoints"), "--out", str(tmp_path / "out"),
                   "--steps", "8", "--images", "6", "--device", "cpu"])
    assert status == 0
    rows = json.loads((tmp_path / "out" / f"{paper}.json").read_text())
    table = (tmp_path / "out" / f"{paper}.md").read_text()
    layers = 4 if paper == "feather" else 1  # Feather: every stage; Nanda: the penultimate layer
    assert [r["model"] for r in rows] == ["standard"] * layers + ["robust"] * layers
    assert all(r["steps"] == 8 and r["n"] == 6 and 0 <= r["valid"] <= 1 for r in rows)
    if paper == "nanda":
        assert all(0 <= r["proxy"] <= 100 for r in rows) and "proxy alignment" in table
    else:
        assert all(0 <= r["recognised by observer"][0] <= 1 for r in rows)
    assert table.count("\n") == len(rows) + 2


def test_its_settings_are_the_papers():
    nanda, feather = PAPERS["nanda"].spec, PAPERS["feather"].spec
    assert (nanda.optimizer, nanda.iterations, nanda.keep, nanda.seed_type, nanda.seed_shared) == \
        ("ngd", 5000, "best", "super-noise", True)
    assert (feather.optimizer, feather.iterations, feather.stages, feather.keep, feather.seed_type,
            feather.fake_relu) == ("ngd_staged", 24000, 8, "last", "feather", True)
    assert PAPERS["nanda"].images == 100 and not PAPERS["nanda"].all_layers and PAPERS["feather"].all_layers
