"""Any architecture a lab uses: timm by name, and architectures the operator installed as entry
points, each matched at an inner layer and run through generate() as a job runs it."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from safetensors.torch import save_file

from iri_engine.architectures import ENTRY_POINT_GROUP, installed_names
from iri_engine.models import ModelLoadError, inspect_model, load_model
from iri_engine.optimize import generate
from iri_engine.spec import GenerationSpec

from .conftest import CPU, TINY_SIZE, smooth_images, tiny_spec

# A lab's own network, as an operator would install it: a module plus a distribution whose
# metadata declares it in the iris.architectures group. Its forward branches on the data, so
# torch.fx cannot trace it and its layers are reached through forward hooks.
LAB_MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class LabNet(nn.Module):
        def __init__(self, num_classes=4):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
            self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
            self.head = nn.Linear(8, num_classes)

        def forward(self, x):
            x = self.stem(x)
            if float(x.detach().mean()) > -1.0:  # data-dependent control flow: untraceable
                x = self.block(x)
            return self.head(x.mean(dim=(2, 3)))

    def build(num_classes=None):
        return LabNet(num_classes or 4)
''')


@pytest.fixture
def installed_lab_architecture(tmp_path, monkeypatch):
    """Install a tiny distribution (module + .dist-info with an entry point) on sys.path."""
    (tmp_path / "lab_arch.py").write_text(LAB_MODULE)
    info = tmp_path / "lab_arch-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lab-arch\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nlab_net = lab_arch:build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "installed:lab_net"
    sys.modules.pop("lab_arch", None)


def _generate_at(loaded, layer: str, steps: int = 30):
    targets = smooth_images(2, size=loaded.spec.input_size)
    spec = GenerationSpec(layers=(layer,), iterations=steps, precision="fp32")
    return generate(loaded, targets, spec, layer=layer, device=CPU, generator=torch.Generator().manual_seed(0))


def test_a_timm_model_runs_a_job_at_an_inner_layer_with_uploaded_weights(tmp_path):
    import timm

    network = timm.create_model("resnet10t", pretrained=False, num_classes=10)
    save_file(network.state_dict(), str(tmp_path / "lab.safetensors"))
    spec = tiny_spec(str(tmp_path / "lab.safetensors"), architecture="timm:resnet10t")
    loaded = load_model(spec, device=CPU)
    assert loaded.traced and "layer2" in loaded.module_names() and loaded.num_outputs == 10
    result = _generate_at(loaded, "layer2")
    curve = torch.tensor(result.loss_curve)
    assert result.iris.shape == (2, 3, TINY_SIZE, TINY_SIZE)
    assert (curve[-1] < 0.7 * curve[0]).all()


def test_an_installed_architecture_runs_a_job_at_an_inner_layer(installed_lab_architecture):
    assert "lab_net" in installed_names()
    loaded = load_model(tiny_spec(architecture=installed_lab_architecture, num_classes=4), device=CPU)
    assert not loaded.traced  # matched through hooks
    assert {"stem", "block", "block.0", "head"} <= set(loaded.layer_names())
    result = _generate_at(loaded, "block.0")
    curve = torch.tensor(result.loss_curve)
    assert (curve[-1] < 0.7 * curve[0]).all()
    assert inspect_model(loaded.spec).num_outputs == 4


def test_hooks_stop_the_forward_at_the_matched_layer(installed_lab_architecture):
    loaded = load_model(tiny_spec(architecture=installed_lab_architecture, num_classes=4), device=CPU)
    reached = []
    loaded.network.head.register_forward_hook(lambda *args: reached.append("head"))
    _generate_at(loaded, "block", steps=2)
    assert reached == []  # nothing past the matched layer ran


def test_unknown_names_are_refused_with_what_is_available(installed_lab_architecture):
    with pytest.raises(ModelLoadError, match="Did you mean: lab_net"):
        load_model(tiny_spec(architecture="installed:lab_nett"), device=CPU)
    with pytest.raises(ModelLoadError, match="timm model name"):
        load_model(tiny_spec(architecture="timm:no_such_net"), device=CPU)
