"""The representation stops at the deepest requested layer; fake ReLU passes gradient."""

from __future__ import annotations

import torch

from iri_engine.features import FeatureExtractor, fake_relu

from .conftest import TINY_SIZE


def test_it_computes_nothing_past_the_requested_layer(tiny_model):
    extractor = FeatureExtractor(tiny_model, ["layer2"])  # tracing runs module code: hook after it
    calls = []
    handles = [tiny_model.network.layer4.register_forward_hook(lambda *a: calls.append("layer4")),
               tiny_model.network.fc.register_forward_hook(lambda *a: calls.append("fc")),
               tiny_model.network.layer3.register_forward_hook(lambda *a: calls.append("layer3"))]
    try:
        out = extractor(torch.rand(2, 3, TINY_SIZE, TINY_SIZE))
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [] and out["layer2"].shape == (2, 128, 4, 4)
    names = {node.name for node in extractor._module.graph.nodes}
    assert not any(name.startswith(("layer3", "layer4", "fc")) for name in names)


def test_it_matches_the_full_network_at_its_output_layer(tiny_model):
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE)
    extractor = FeatureExtractor(tiny_model, ["fc", "avgpool"])
    with torch.no_grad():
        out = extractor(x)
        assert torch.allclose(out["fc"], tiny_model(x), atol=1e-5)
    assert extractor.flat(x, "avgpool").shape == (2, 512)


def test_it_passes_gradient_through_dead_units_with_fake_relu():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    y = fake_relu(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.equal(y, torch.tensor([0.0, 2.0])) and torch.equal(grad, torch.ones(2))


def test_it_swaps_the_relu_at_the_matched_layer_only(tiny_model):
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE, requires_grad=True)
    plain = FeatureExtractor(tiny_model, ["avgpool"])
    fake = FeatureExtractor(tiny_model, ["avgpool"], fake_relu=True)
    # The last ReLU of layer4 sits behind avgpool and is swapped; values are unchanged.
    assert fake.fake_relu_swaps == 1 and plain.fake_relu_swaps == 0
    with torch.no_grad():
        assert torch.allclose(fake.flat(x), plain.flat(x))
    # A direction that only dead units see: the gradients differ.
    (g_plain,) = torch.autograd.grad(plain.flat(x).sum(), x)
    (g_fake,) = torch.autograd.grad(fake.flat(x).sum(), x)
    assert not torch.allclose(g_plain, g_fake)
    assert FeatureExtractor(tiny_model, ["layer3.1.conv1"], fake_relu=True).fake_relu_swaps == 0


def test_it_folds_batchnorm_without_changing_the_representation(tiny_model):
    x = torch.rand(2, 3, TINY_SIZE, TINY_SIZE)
    for layers in (["conv1"], ["bn1"], ["layer3"], ["avgpool", "layer2.0.conv1"]):
        folded = FeatureExtractor(tiny_model, layers)(x)
        plain = FeatureExtractor(tiny_model, layers, fold_batchnorm=False)(x)
        for layer in layers:
            assert torch.allclose(folded[layer], plain[layer], atol=1e-4, rtol=1e-4)
    extractor = FeatureExtractor(tiny_model, ["layer3"])
    assert not any(node.name.startswith("bn") or ".bn" in str(node.target) for node in extractor._module.graph.nodes)
    assert not any(p.requires_grad for p in extractor._module.parameters())
    assert isinstance(tiny_model.network.bn1, torch.nn.BatchNorm2d)  # the loaded network is untouched
