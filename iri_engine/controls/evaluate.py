"""What the proxies and model-to-model recognition say about the controls:
``python -m iri_engine.controls.evaluate [--per-class N] [--steps N] [--write docs/engine/controls.md]``.

For each control network, IRIs of held-out digits at its penultimate layer (``avgpool``), made
as the papers make them (reg_free, normalised gradient descent with eta 1, Nanda's shared
super-noise seed, best iterate), then:
- the verdict (the default IriCriterion; the null from pairs of held-out digits of different
  categories);
- proxy alignment (docs/method.md §3) under the observer network's perceptual distance and under
  plain pixel distance;
- model-to-model recognition: the observer's accuracy on the IRIs, against the targets' labels.
Every share comes with a 95% bootstrap interval over images.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from iri_engine.controls import PENULTIMATE, balanced_targets, digits, write_controls
from iri_engine.models import load_model
from iri_engine.optimize import generate
from iri_engine.proxies import PerceptualDistance, PixelDistance, model_to_model, proxy_alignment
from iri_engine.spec import GenerationSpec, IriCriterion
from iri_engine.validity import null_distribution, verdicts

OBSERVER_LAYERS = ("layer1", "layer2")
BOOTSTRAP = 2000
NULL_IMAGES = 100  # held-out digits the null's pairs come from


def bootstrap_interval(flags: list[bool], *, generator: torch.Generator) -> tuple[float, float]:
    """95% percentile interval of the share of True, resampling items."""
    values = torch.tensor(flags, dtype=torch.float64)
    picks = torch.randint(0, len(values), (BOOTSTRAP, len(values)), generator=generator)
    shares = values[picks].mean(dim=1)
    return float(shares.quantile(0.025)), float(shares.quantile(0.975))


def evaluate(*, per_class: int, steps: int, device: torch.device | None = None) -> dict:
    """{control name: {measure: {"share", "low", "high", "n"}}, "settings": ...} (see module docstring)."""
    device = device or torch.device("cpu")
    controls = write_controls()
    observer = load_model(controls["observer"].spec, device=device)
    distances = [PerceptualDistance(observer, OBSERVER_LAYERS, name="observer"), PixelDistance()]
    targets, labels = balanced_targets(per_class)
    naturals, natural_labels = digits("test")
    spec = GenerationSpec(layers=(PENULTIMATE,), iterations=steps, precision="fp32")
    results = {"settings": {"per_class": per_class, "steps": steps, "n": len(labels)}}
    for name in ("standard", "robust"):
        loaded = load_model(controls[name].spec, device=device)
        started = time.perf_counter()
        made = generate(loaded, targets, spec, layer=PENULTIMATE, device=device, generator=torch.Generator().manual_seed(0))
        null = null_distribution(loaded, PENULTIMATE, naturals[:NULL_IMAGES], generator=torch.Generator().manual_seed(0),
                                 kind="different_category", labels=natural_labels[:NULL_IMAGES].tolist())
        judged = verdicts(loaded, PENULTIMATE, targets, made.iris, criterion=IriCriterion(), null=null)
        proxy = proxy_alignment(made.iris, targets, made.seeds, distances)["per_distance"]
        recognised = model_to_model(observer, made.iris, labels)["correct"]
        flags = {"passes the IRI criterion": [row["verdict"]["passes"] for row in judged],
                 "proxy aligned (observer distance)": proxy["observer"]["aligned"],
                 "proxy aligned (pixel distance)": proxy["pixel-l2"]["aligned"],
                 "recognised by the observer": recognised}
        generator = torch.Generator().manual_seed(0)
        results[name] = {label: _share(values, generator) for label, values in flags.items()}
        results[name]["median L_rep"] = float(made.final_rep_loss.median())
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
    return results


def _share(flags: list[bool], generator: torch.Generator) -> dict:
    low, high = bootstrap_interval(flags, generator=generator)
    return {"share": sum(flags) / len(flags), "low": low, "high": high, "n": len(flags)}


def table(results: dict) -> str:
    """The results as a markdown table, one row per measure, one column per control."""
    measures = [key for key in results["standard"] if isinstance(results["standard"][key], dict)]
    lines = ["| measure | standard (negative control) | robust (positive control) |", "|---|---|---|"]
    for key in measures:
        cells = [f"{100 * r['share']:.0f}% [{100 * r['low']:.0f}, {100 * r['high']:.0f}]"
                 for r in (results["standard"][key], results["robust"][key])]
        lines.append(f"| {key} | {cells[0]} | {cells[1]} |")
    lines.append(f"| median L_rep | {results['standard']['median L_rep']:.3f} | {results['robust']['median L_rep']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iri_engine.controls.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--per-class", type=int, default=5, help="held-out digits per class (10 classes)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--write", help="replace the table between the markers in this markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = evaluate(per_class=args.per_class, steps=args.steps)
    text = table(results)
    print(text)
    if args.write:
        _write_between_markers(Path(args.write), text, results["settings"])
    return 0


START, END = "<!-- controls table: start -->", "<!-- controls table: end -->"


def _write_between_markers(path: Path, text: str, settings: dict) -> None:
    page = path.read_text()
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    note = f"{settings['n']} held-out digits, {settings['steps']} steps; 95% bootstrap intervals over images."
    path.write_text(f"{head}{START}\n{text}\n\n{note}\n{END}{tail}")


if __name__ == "__main__":
    raise SystemExit(main())
