"""Specs are validated once, at the edge, and survive a JSON round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from iri_engine.spec import LOSS_PRESETS, GenerationSpec, IriCriterion, ModelSpec, SpecError

MODEL = {"architecture": "resnet18", "weights_path": None, "input_size": 32,
         "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def test_it_round_trips_a_model_spec_through_json():
    spec = ModelSpec.from_dict(MODEL)
    again = ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert spec.mean == (0.5, 0.5, 0.5) and spec.num_classes is None and spec.init_seed == 0


def test_it_round_trips_a_generation_spec_through_json():
    spec = GenerationSpec(layers=("layer3", "avgpool"), loss="freq", loss_weights={"tv": 0.01},
                          adversarial_scale=2.5, seed_type="feather", optimizer="ngd_staged")
    again = GenerationSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.layers == ("layer3", "avgpool")


def test_it_fills_generation_defaults_from_a_minimal_dict():
    spec = GenerationSpec.from_dict({"layers": ["avgpool"]})
    assert spec == GenerationSpec(layers=("avgpool",))
    assert (spec.loss, spec.optimizer, spec.keep, spec.iterations) == ("reg_free", "ngd", "best", 1000)


@pytest.mark.parametrize(("patch", "field"), [
    ({"input_size": 0}, "input_size"),
    ({"input_size": True}, "input_size"),
    ({"std": [1, 0, 1]}, "std[1]"),
    ({"mean": [0.5, 0.5]}, "mean"),
    ({"architecture": ""}, "architecture"),
    ({"num_classes": -3}, "num_classes"),
    ({"colour": "red"}, "colour"),
    ({"architecture": "torchscript"}, "weights_path"),
])
def test_it_names_the_bad_model_field(patch, field):
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        ModelSpec.from_dict({**MODEL, **patch})


@pytest.mark.parametrize(("patch", "field"), [
    ({"layers": []}, "layers"),
    ({"layers": "layer3"}, "layers"),
    ({"loss": "pretty"}, "loss"),
    ({"loss_weights": {"perceptual": 1.0}}, "loss_weights"),
    ({"loss_weights": {"tv": "much"}}, "loss_weights.tv"),
    ({"seed_type": "grey"}, "seed_type"),
    ({"iterations": 0}, "iterations"),
    ({"step_size": -1}, "step_size"),
    ({"step_size": float("nan")}, "step_size"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"keep": "first"}, "keep"),
    ({"parameterization": "wavelet"}, "parameterization"),
    ({"transforms": "yes"}, "transforms"),
    ({"precision": "fp8"}, "precision"),
    ({"optimizer": "ngd_staged", "iterations": 4, "stages": 8}, "stages"),
])
def test_it_names_the_bad_generation_field(patch, field):
    with pytest.raises(SpecError, match=field):
        GenerationSpec.from_dict({"layers": ["avgpool"], **patch})


def test_it_refuses_a_non_object():
    with pytest.raises(SpecError, match="JSON object"):
        GenerationSpec.from_dict(["avgpool"])


def test_it_lists_every_preset_of_the_method_table():
    assert set(LOSS_PRESETS) == {"reg_free", "freq", "freq_tv", "freq_blur", "freq_lp", "freq_tv_l6",
                                 "adversarial", "adversarial_seed"}


def test_it_validates_specs_without_importing_torch():
    code = ("import sys; from iri_engine.spec import GenerationSpec; "
            "GenerationSpec.from_dict({'layers': ['x']}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_iri_criterion_has_defaults_round_trips_and_rejects_bad_values():
    spec = GenerationSpec.from_dict({"layers": ["avgpool"]})
    assert spec.criterion == IriCriterion(max_rep_loss=0.1, validity=True, class_agreement=True,
                                          null="different_category")
    custom = GenerationSpec.from_dict({"layers": ["avgpool"], "criterion": {"max_rep_loss": None, "null": "reference"}})
    assert custom.criterion.max_rep_loss is None and custom.criterion.null == "reference"
    assert GenerationSpec.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom
    for bad, field in [({"null": "everything"}, "criterion.null"), ({"max_rep_loss": -1}, "criterion.max_rep_loss"),
                       ({"validity": "yes"}, "criterion.validity"), ({"bound": 1}, "unknown")]:
        with pytest.raises(SpecError, match=field):
            GenerationSpec.from_dict({"layers": ["avgpool"], "criterion": bad})
