"""The benchmark compares like with like: the published loop and the engine, image by image."""

from __future__ import annotations

import pytest
import torch

from bench.engine import bench_one, hardware, paired, peak_tflops, verdict


@pytest.mark.parametrize("network, layer", [("robust", "avgpool"), ("resnet18", "layer3")])
def test_it_runs_the_same_algorithm_as_the_published_loop(network, layer):
    row = bench_one(network, 32, layer, batch=3, steps=4, repeats=1, device=torch.device("cpu"), precision="fp32",
                    yardstick=True)
    assert row["baseline_ips"] > 0 and row["engine_ips"] > 0 and row["n"] == 3
    # Same algorithm, same fp32 arithmetic up to summation order: per-image L_rep within 0.1%.
    assert row["engine_rep"] == pytest.approx(row["baseline_rep"], rel=1e-3)
    assert abs(row["yardstick"]["relative"]) < 1e-3
    assert row["verdict"] == "not worse" and row["engine_gflops"] > 0


def test_its_paired_test_and_verdict_call_a_consistently_higher_engine_worse():
    baseline = torch.linspace(0.05, 0.10, 30)
    higher = baseline * 1.03
    result = paired(higher, baseline)
    assert result["lower"] == 0 and result["p"] < 1e-4 and result["relative"] == pytest.approx(0.03)
    assert verdict(higher, baseline, result["p"]) == "WORSE"
    noisy = baseline * (1 + 0.03 * torch.tensor([1.0, -1.0] * 15))  # as often lower as higher
    assert verdict(noisy, baseline, paired(noisy, baseline)["p"]) == "not worse"
    assert verdict(baseline * 0.97, baseline, 1e-6) == "not worse"  # significantly lower


def test_it_names_the_hardware_and_knows_gpu_peaks_only_on_gpus():
    assert "native bf16: " in hardware(torch.device("cpu"))
    assert peak_tflops(torch.device("cpu"), None) is None
    assert peak_tflops(torch.device("cpu"), 100.0) == 100.0


def test_the_precision_study_separates_gradients_from_the_choice_of_iterate(capsys):
    from bench.precision import VARIANTS, main

    assert main(["--steps", "3", "--per-class", "1"]) == 0
    printed = capsys.readouterr().out
    assert all(f"| {label} |" in printed for label in VARIANTS)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_it_prints_both_loops_speed_and_the_share_of_bf16_peak(capsys):
    from bench.engine import main

    # The GPU figure (224 px, batch 64), with few steps: the command docs/engine/bench.md gives.
    assert main(["--device", "cuda", "--networks", "resnet18", "--sizes", "224", "--batch", "64",
                 "--layers", "layer3", "--steps", "10", "--peak-tflops", "100"]) == 0
    printed = capsys.readouterr().out
    assert "native bf16: yes" in printed and "bf16 peak=100 TFLOP/s" in printed
    header, _, row = printed.strip().splitlines()[-3:]
    assert "share of bf16 peak" in header and "| resnet18 | 224 | layer3 | 64 | 10 |" in row
    assert row.rstrip(" |").endswith("%")
