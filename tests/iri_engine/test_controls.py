"""The shipped controls: small trained networks, one with human-like invariances (robust) and
one without (standard); the direction the proxies give them must not regress."""

from __future__ import annotations

from iri_engine.controls import CONTROLS, manifest, write_controls
from iri_engine.controls.evaluate import evaluate
from iri_engine.models import load_model, sha256_file

from .conftest import CPU


def test_it_writes_the_committed_weights_and_their_specs(tmp_path):
    controls = write_controls(tmp_path)
    record = manifest()
    assert set(controls) == set(CONTROLS) and record["command"].startswith("python -m iri_engine.controls.train")
    for name, control in controls.items():
        path = control.spec.weights_path
        assert path.startswith(str(tmp_path)) and sha256_file(path) == record["networks"][name]["sha256"]
        assert (tmp_path / f"{name}.safetensors").stat().st_size < 400_000  # small enough to commit
        loaded = load_model(control.spec, device=CPU)
        assert loaded.num_outputs == 10 and "avgpool" in loaded.module_names() + loaded.layer_names()
    robust, standard = record["networks"]["robust"], record["networks"]["standard"]
    assert min(robust["test_accuracy"], standard["test_accuracy"]) > 0.95
    assert robust["test_accuracy_under_attack"] > 0.8 > 0.1 > standard["test_accuracy_under_attack"]


def test_the_proxies_tell_the_positive_control_from_the_negative_one():
    results = evaluate(per_class=1, steps=200)
    robust, standard = results["robust"], results["standard"]
    # The robust network's IRIs of held-out digits end closer to their targets than to their
    # noise seeds more often than the standard network's, under both distances.
    for measure in ("proxy aligned (pixel distance)", "proxy aligned (observer distance)"):
        assert robust[measure]["share"] > standard[measure]["share"], (measure, robust[measure], standard[measure])
    assert robust["proxy aligned (pixel distance)"]["share"] >= 0.3
    assert standard["passes the IRI criterion"]["share"] >= 0.8  # they are IRIs, just not human-like ones
