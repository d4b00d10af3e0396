"""Models load safely: weights only, never code; clear errors; frozen, eval mode."""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from iri_engine.models import ModelLoadError, UnknownLayerError, check_layers, inspect_model, load_model

from .conftest import CPU, TINY_SIZE, tiny_spec


class FileWritingPayload:
    """Pickles into a call that would create ``path`` if the unpickler ever executed it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class ShellPayload:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.path}",))


def _resnet(num_classes: int = 10, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=num_classes).eval()


def _same_outputs(loaded, reference: torch.nn.Module) -> bool:
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE)
    with torch.no_grad():
        return torch.allclose(loaded(x), reference(loaded.normalize(x)), atol=1e-4)


def test_it_loads_a_state_dict_and_records_its_hash(tmp_path):
    reference = _resnet()
    path = tmp_path / "weights.pt"
    torch.save(reference.state_dict(), path)
    loaded = load_model(tiny_spec(str(path)), device=CPU)
    assert loaded.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert _same_outputs(loaded, reference)


def test_it_unwraps_common_checkpoint_wrappers(tmp_path):
    reference = _resnet()
    path = tmp_path / "checkpoint.pth"
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state}, path)
    assert _same_outputs(load_model(tiny_spec(str(path)), device=CPU), reference)


def test_it_loads_safetensors(tmp_path):
    reference = _resnet()
    path = tmp_path / "weights.safetensors"
    save_file(reference.state_dict(), str(path))
    assert _same_outputs(load_model(tiny_spec(str(path)), device=CPU), reference)


def test_it_loads_a_torchscript_archive_whose_only_layer_is_its_output(tmp_path):
    reference = _resnet()
    path = tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream
        torch.jit.save(torch.jit.script(reference), str(path))
    loaded = load_model(tiny_spec(str(path), architecture="torchscript"), device=CPU, allow_code=True)
    assert loaded.layer_names() == ["output"] and loaded.is_classifier and loaded.num_outputs == 10
    assert _same_outputs(loaded, reference)


def test_it_runs_no_torchscript_unless_the_caller_is_the_sandbox(tmp_path):
    path = tmp_path / "model.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream
        torch.jit.save(torch.jit.script(_resnet()), str(path))
    with pytest.raises(ModelLoadError, match="only inside the sandbox"):
        load_model(tiny_spec(str(path), architecture="torchscript"), device=CPU)


def test_it_refuses_a_pickled_whole_model_and_says_how_to_export(tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(_resnet(), path)
    with pytest.raises(ModelLoadError, match=r"state_dict\(\).*TorchScript|TorchScript.*state_dict"):
        load_model(tiny_spec(str(path)), device=CPU)


@pytest.mark.parametrize("payload_type", [FileWritingPayload, ShellPayload])
@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_it_never_executes_a_malicious_checkpoint(tmp_path, payload_type, writer):
    victim = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    checkpoint = {"conv1.weight": torch.zeros(1), "trap": payload_type(str(victim))}
    if writer == "torch.save":
        torch.save(checkpoint, path)
    else:
        path.write_bytes(pickle.dumps(checkpoint))
    with pytest.raises(ModelLoadError):
        load_model(tiny_spec(str(path)), device=CPU)
    assert not victim.exists()


def test_it_names_missing_and_unexpected_keys(tmp_path):
    path = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet34(num_classes=10).state_dict(), path)
    with pytest.raises(ModelLoadError, match=r"unexpected keys .*layer1\.2") as error:
        load_model(tiny_spec(str(path)), device=CPU)
    assert "missing keys none" in str(error.value)


def test_it_names_tensors_of_the_wrong_shape(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(_resnet(num_classes=16).state_dict(), path)
    with pytest.raises(ModelLoadError, match=r"fc\.weight \(16, 512\) vs \(10, 512\)"):
        load_model(tiny_spec(str(path)), device=CPU)


def test_it_lists_close_names_for_an_unknown_architecture():
    with pytest.raises(ModelLoadError, match="resnet18"):
        load_model(tiny_spec(architecture="resnet19"), device=CPU)


def test_it_reports_a_missing_or_unreadable_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        load_model(tiny_spec(str(tmp_path / "nope.pt")), device=CPU)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelLoadError):
        load_model(tiny_spec(str(junk)), device=CPU)


def test_it_freezes_the_network_and_normalises_inside_the_forward(tiny_model):
    assert not tiny_model.network.training
    assert not any(p.requires_grad for p in tiny_model.network.parameters())
    x = torch.rand(1, 3, TINY_SIZE, TINY_SIZE)
    mean = torch.tensor(tiny_model.spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(tiny_model.spec.std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(tiny_model(x), tiny_model.network((x - mean) / std))


def test_it_describes_the_model_for_registration():
    info = inspect_model(tiny_spec())
    assert "x" not in info.layer_names
    assert {"conv1", "layer3.1.relu_1", "avgpool", "flatten", "fc"} <= set(info.layer_names)
    assert {"layer1", "layer3", "layer4"} <= set(info.module_names)
    assert info.is_classifier and info.num_outputs == 10 and info.checkpoint_sha256 is None


def test_it_refuses_an_unknown_layer_and_suggests_close_ones(tiny_model):
    check_layers(tiny_model, ["layer3", "avgpool", "layer2.0.conv1"])
    with pytest.raises(UnknownLayerError, match="layer4"):
        check_layers(tiny_model, ["layer5"])


def test_it_builds_the_same_random_init_from_the_same_seed_without_touching_global_rng():
    state = torch.random.get_rng_state()
    a = load_model(tiny_spec(init_seed=7), device=CPU)
    b = load_model(tiny_spec(init_seed=7), device=CPU)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.network.parameters(), b.network.parameters(), strict=True))
