"""The demo checkpoint is small, deterministic, download-free and loads as a state_dict."""

from __future__ import annotations

import torch

from iri_engine.demo import DEMO_INPUT_SIZE, write_demo_checkpoint
from iri_engine.models import load_model

from .conftest import CPU


def test_it_writes_a_deterministic_state_dict_that_loads(tmp_path):
    spec = write_demo_checkpoint(tmp_path / "demo.pt")
    again = write_demo_checkpoint(tmp_path / "again" / "demo.pt")
    assert (tmp_path / "demo.pt").read_bytes() == (tmp_path / "again" / "demo.pt").read_bytes()
    loaded = load_model(spec, device=CPU)
    assert spec.input_size == DEMO_INPUT_SIZE and loaded.is_classifier and loaded.num_outputs == 16
    assert loaded.checkpoint_sha256 == load_model(again, device=CPU).checkpoint_sha256
    state = torch.load(spec.weights_path, weights_only=True)
    assert all(isinstance(value, torch.Tensor) for value in state.values())
