"""``python -m iri_engine.inspect`` answers in JSON, in a subprocess, success or failure."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from .conftest import tiny_spec


def _inspect(argument: str) -> tuple[int, dict]:
    out = subprocess.run([sys.executable, "-m", "iri_engine.inspect", argument],
                         check=False, capture_output=True, text=True, timeout=120)
    return out.returncode, json.loads(out.stdout)


def test_it_prints_the_model_info(tmp_path):
    import torchvision

    path = tmp_path / "w.pt"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
    code, info = _inspect(json.dumps(tiny_spec(str(path)).to_dict()))
    assert code == 0
    assert "avgpool" in info["layer_names"] and "layer3" in info["module_names"]
    assert info["is_classifier"] is True and info["num_outputs"] == 10
    assert len(info["checkpoint_sha256"]) == 64


def test_it_reports_errors_as_json_and_exits_1(tmp_path):
    code, answer = _inspect(json.dumps({**tiny_spec().to_dict(), "architecture": "resnt18"}))
    assert code == 1 and "resnet18" in answer["error"]
    code, answer = _inspect("{not json")
    assert code == 1 and "JSON" in answer["error"]
    code, answer = _inspect(json.dumps({**tiny_spec().to_dict(), "input_size": -1}))
    assert code == 1 and "input_size" in answer["error"]
    evil = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), evil)
    code, answer = _inspect(json.dumps(tiny_spec(str(evil)).to_dict()))
    assert code == 1 and "state_dict" in answer["error"]
