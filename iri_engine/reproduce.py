"""The papers' experiments on checkpoints a lab has downloaded:
``python -m iri_engine.reproduce nanda|feather --checkpoints DIR [--targets DIR|digits] [--out DIR]``.

``DIR/models.json`` lists the networks: ``[{"name", "architecture", "weights" (a file in DIR),
"input_size", "mean", "std", "num_classes", "layers", "role", "paper"}]``. ``role`` is
``subject`` (IRIs are made for it; the default), ``observer`` (a classifier that reads the
subjects' IRIs, Feather's model-to-model test) or ``distance`` (a perceptual distance over its
``layers`` for Nanda's proxy). ``paper`` names the row of the published table it reproduces
(``PUBLISHED``), e.g. ``"ResNet18 robust"``.

The settings are the papers' (docs/method.md §1, §4), all overridable for a quick run:
- ``nanda``: reg_free, normalised gradient descent with eta 1 for 5,000 steps, best iterate, one
  shared super-noise seed, at each subject's last listed layer (the penultimate one); 100
  targets; the share of IRIs proxy-aligned under each distance (mean and spread over distances).
- ``feather``: the same step with eta halved before each of 8 stages of 3,000 steps (24,000),
  last iterate, Feather's N(0.5, 0.05^2) seed per target, fake ReLU at the matched layer, at every
  listed layer; 400 targets; the share of valid metamers (null of different-category pairs) and
  each observer's accuracy on them.
Targets: ``--targets`` is a folder of category folders of images (CIFAR-10 test images for
Nanda's table, Feather's 16 ImageNet categories for his), or ``digits`` (scikit-learn's, the
control networks' data set). Writes ``<paper>.md`` (the table, published numbers beside this
run's) and ``<paper>.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch.nn import functional as F

from iri_engine.devices import pick_device
from iri_engine.io import load_target
from iri_engine.models import load_model
from iri_engine.optimize import generate
from iri_engine.proxies import PerceptualDistance, model_to_model, proxy_alignment
from iri_engine.spec import GenerationSpec, IriCriterion, ModelSpec
from iri_engine.validity import null_distribution, verdicts

# docs/method.md §4: Nanda's proxy alignment (%, LPIPS, reg_free, CIFAR-10) and Feather's human
# 16-way recognition of final-layer metamers (share; chance 0.0625).
PUBLISHED = {
    "nanda": {"ResNet18": 0.0, "DenseNet121": 0.0, "VGG16": 0.0, "InceptionV3": 0.0, "ResNet18 robust": 76.5,
              "DenseNet121 robust": 93.5, "VGG16 robust": 0.25, "InceptionV3 robust": 24.25},
    "feather": {"ResNet50": 0.13, "AlexNet": 0.06, "ResNet50 robust": 0.64, "AlexNet robust": 0.43},
}


@dataclass(frozen=True)
class Paper:
    spec: GenerationSpec
    images: int
    all_layers: bool  # every listed layer (Feather) or only the last (Nanda's penultimate)


PAPERS = {
    "nanda": Paper(GenerationSpec(layers=("x",), loss="reg_free", optimizer="ngd", iterations=5000, step_size=1.0,
                                  keep="best", seed_type="super-noise", seed_shared=True, random_seed=0),
                   images=100, all_layers=False),
    "feather": Paper(GenerationSpec(layers=("x",), loss="reg_free", optimizer="ngd_staged", iterations=24000,
                                    stages=8, step_size=1.0, keep="last", seed_type="feather", seed_shared=False,
                                    fake_relu=True, random_seed=0),
                     images=400, all_layers=True),
}


def read_models(directory: Path) -> list[dict]:
    """The entries of ``models.json``, each with its "spec" (a ModelSpec) added."""
    entries = json.loads((directory / "models.json").read_text())
    for entry in entries:
        weights = entry.get("weights")
        entry["spec"] = ModelSpec.from_dict({
            "architecture": entry["architecture"], "weights_path": str(directory / weights) if weights else None,
            "input_size": entry["input_size"], "mean": entry["mean"], "std": entry["std"],
            "num_classes": entry.get("num_classes")})
        entry.setdefault("role", "subject")
    return entries


def read_targets(source: str, count: int) -> tuple[torch.Tensor, list[str]]:
    """Up to ``count`` targets, balanced over categories, as (N, 3, S, S) at their stored size
    S (the digits: 32) or 256 for image folders, and their category names."""
    if source == "digits":
        from iri_engine.controls import balanced_targets  # lazy: loads scikit-learn's data, only for this source

        images, labels = balanced_targets(-(-count // 10))
        return images[:count], [str(int(label)) for label in labels[:count]]
    folders = sorted(p for p in Path(source).iterdir() if p.is_dir())
    files = [sorted(f for f in folder.iterdir() if f.is_file()) for folder in folders]
    picked = [(folder.name, group[i]) for i in range(max(map(len, files), default=0))
              for folder, group in zip(folders, files, strict=True) if i < len(group)][:count]
    return torch.stack([load_target(path.read_bytes(), size=256) for _, path in picked]), [n for n, _ in picked]


def _resized(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def run(paper: str, *, checkpoints: Path, targets: str, steps: int | None, images: int | None,
        device: torch.device) -> list[dict]:
    """One row per subject and layer (see the module docstring)."""
    settings = PAPERS[paper]
    entries = read_models(checkpoints)
    naturals, labels = read_targets(targets, images or settings.images)
    rows = []
    for entry in (e for e in entries if e["role"] == "subject"):
        loaded = load_model(entry["spec"], device=device)
        layers = entry["layers"] if settings.all_layers else entry["layers"][-1:]
        for layer in layers:
            spec = replace(settings.spec, layers=(layer,), iterations=steps or settings.spec.iterations)
            spec = replace(spec, stages=min(spec.stages, spec.iterations))
            rows.append(_row(paper, entry, loaded, layer, spec, naturals, labels, entries, device))
    return rows


def _row(paper, entry, loaded, layer, spec, naturals, labels, entries, device) -> dict:
    targets = _resized(naturals, loaded.spec.input_size)
    made = generate(loaded, targets, spec, layer=layer, device=device, generator=torch.Generator().manual_seed(0))
    null = null_distribution(loaded, layer, targets, generator=torch.Generator().manual_seed(0),
                             kind="different_category", labels=labels)
    judged = verdicts(loaded, layer, targets, made.iris, criterion=IriCriterion(), null=null)
    row = {"model": entry["name"], "paper_model": entry.get("paper"), "layer": layer, "n": len(labels),
           "steps": spec.iterations, "median_rep_loss": float(made.final_rep_loss.median()),
           "valid": sum(bool(r["passes"]) for r in judged) / len(judged),
           "published": PUBLISHED[paper].get(entry.get("paper"))}
    if paper == "nanda":
        distances = [PerceptualDistance(load_model(e["spec"], device=device), e["layers"], name=e["name"])
                     for e in entries if e["role"] == "distance"]
        scored = proxy_alignment(made.iris, targets, made.seeds, distances)
        row.update(proxy=100 * scored["mean"], proxy_spread=100 * scored["spread"])
    else:
        for observer in (e for e in entries if e["role"] == "observer"):
            reader = load_model(observer["spec"], device=device)
            # The observer's own reading of each target is what its reading of the IRI must match.
            truth = model_to_model(reader, targets, [0] * len(labels))["predicted"]
            result = model_to_model(reader, made.iris, truth)
            row[f"recognised by {observer['name']}"] = (result["accuracy"], result["sem"])
    return row


def table(paper: str, rows: list[dict]) -> str:
    """The paper's table with this run's numbers beside the published ones."""
    if paper == "nanda":
        head = "| model | layer | n | steps | median L_rep | valid IRIs | proxy alignment % (spread) | published % |"
        body = [f"| {r['model']} | {r['layer']} | {r['n']} | {r['steps']} | {r['median_rep_loss']:.3f} | "
                f"{100 * r['valid']:.0f}% | {r['proxy']:.1f} ({r['proxy_spread']:.1f}) | {_published(r)} |" for r in rows]
    else:
        observers = sorted({k for r in rows for k in r if k.startswith("recognised by")})
        head = ("| model | layer | n | steps | median L_rep | valid metamers | "
                + "".join(f"{o} | " for o in observers) + "published human recognition |")
        body = [f"| {r['model']} | {r['layer']} | {r['n']} | {r['steps']} | {r['median_rep_loss']:.3f} | "
                f"{100 * r['valid']:.0f}% | " + "".join(f"{r[o][0]:.2f} ± {r[o][1]:.2f} | " for o in observers)
                + f"{_published(r)} |" for r in rows]
    return "\n".join([head, "|" + "---|" * head.count(" | ") + "---|", *body])


def _published(row: dict) -> str:
    return "n/a" if row["published"] is None else f"{row['published']:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iri_engine.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("paper", choices=sorted(PAPERS))
    parser.add_argument("--checkpoints", required=True, type=Path, help="folder with models.json and the weights")
    parser.add_argument("--targets", default="digits", help="folder of category folders, or 'digits'")
    parser.add_argument("--out", type=Path, default=Path("reproduction"))
    parser.add_argument("--steps", type=int, default=None, help="override the paper's step count (quick runs)")
    parser.add_argument("--images", type=int, default=None, help="override the paper's number of targets")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    rows = run(args.paper, checkpoints=args.checkpoints, targets=args.targets, steps=args.steps,
               images=args.images, device=pick_device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    text = table(args.paper, rows)
    (args.out / f"{args.paper}.md").write_text(text + "\n")
    (args.out / f"{args.paper}.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
