"""The benchmark compares like with like: the baseline loop and the engine reach the same L_rep."""

from __future__ import annotations

import time

import pytest
import torch

from bench.engine import _speeds, _verdict, bench_one


@pytest.mark.parametrize("layer", ["layer3", "avgpool"])
def test_it_runs_the_same_algorithm_as_the_published_loop(layer):
    row = bench_one(32, layer, batch=2, steps=4, repeats=1, device=torch.device("cpu"), precision="fp32")
    assert row["baseline_ips"] > 0 and row["engine_ips"] > 0
    assert row["engine_rep"] == pytest.approx(row["baseline_rep"], rel=1e-3)
    assert row["reorder_spread"] < 1e-3 * row["baseline_rep"]
    # The engine's forward stops at the layer: at layer3, layer4's forward is work the baseline
    # does and the engine does not; at avgpool only the tiny fc layer is left out.
    if layer == "layer3":
        assert row["flop_ratio"] > 1.1
    else:
        assert 1.0 < row["flop_ratio"] < 1.01


def test_its_verdict_calls_a_higher_engine_loss_higher():
    assert _verdict(0.100, 0.100, 0.0) == "equal"
    assert _verdict(0.1004, 0.100, 0.0) == "equal"  # within the 0.5% floor
    assert _verdict(0.102, 0.100, 0.001) == "HIGHER"
    assert _verdict(0.102, 0.100, 0.003) == "equal"  # within the measured reordering spread
    assert _verdict(0.098, 0.100, 0.001) == "lower"


def test_its_speeds_come_from_pairs_of_runs_side_by_side():
    calls = []

    def loop_taking(seconds_per_step, name):
        def run(steps):
            calls.append((name, steps))
            time.sleep(seconds_per_step * steps)
        return run

    speeds = _speeds(loop_taking(0.002, "engine"), loop_taking(0.006, "baseline"), batch=4, chunk=5, pairs=3,
                     device=torch.device("cpu"))
    assert calls == [("baseline", 5), ("engine", 5)] * 3
    assert speeds["speedup"] == pytest.approx(3.0, rel=0.2)
    assert speeds["speedup_low"] <= speeds["speedup"] <= speeds["speedup_high"]
    assert speeds["engine_ips"] == pytest.approx(4 / 0.002, rel=0.2)
