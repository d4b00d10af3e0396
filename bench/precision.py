"""Where bf16 costs final L_rep: ``python -m bench precision [--network robust] [--checkpoint JSON]``.

Separates the two ways a bf16 forward can raise the final L_rep of the published loop (normalised
gradient descent, eta 1, best iterate) on a trained network: the gradients (computed through the
bf16 network) and the choice of the kept iterate (made on the bf16 loss). Each variant runs the
same loop from the same seeds on held-out digits; every kept image is scored by one fp32 forward
and compared image by image with the all-fp32 loop (how many end lower, mean relative
difference, Wilcoxon p). A yardstick variant runs fp32 with BatchNorm left unfolded (the same
function, other roundings): how far trajectories drift apart with no change of precision at all.
Slow on purpose (six whole runs); the figures are in docs/engine/option-precision.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from bench.engine import paired
from iri_engine.controls import PENULTIMATE, balanced_targets, write_controls
from iri_engine.features import FeatureExtractor
from iri_engine.losses import representation_loss
from iri_engine.models import load_model
from iri_engine.seeds import make_seeds
from iri_engine.spec import ModelSpec

# name: (extractor for the gradient, extractor for choosing the kept iterate; "same": the gradient's loss)
VARIANTS = {
    "fp32 reordered (yardstick)": ("fp32_unfolded", "same"),
    "bf16 gradients, bf16 choice (auto before the fix)": ("bf16", "same"),
    "bf16 gradients, fp32 choice": ("bf16", "fp32"),
    "fp32 gradients, bf16 choice": ("fp32", "bf16"),
    "auto (bf16 descent, fp32 finish and choice)": ("auto", "same"),
}


def _loop(extractors: dict, grad_name: str, choice_name: str, targets, seeds, target_features, steps: int,
          layer: str) -> torch.Tensor:
    x, best_loss = seeds.clone(), torch.full((len(targets),), float("inf"))
    best = x.clone()
    for step in range(steps + 1):
        x.requires_grad_(True)
        loss = representation_loss(extractors[grad_name].flat(x, layer), target_features)
        grad = torch.autograd.grad(loss.sum(), x)[0] if step < steps else None
        with torch.no_grad():
            chosen = loss if choice_name == "same" else representation_loss(
                extractors[choice_name].flat(x, layer), target_features)
            better = chosen < best_loss
            best_loss, best = torch.where(better, chosen, best_loss), torch.where(better.view(-1, 1, 1, 1), x, best)
            if grad is not None:
                x = (x - grad / (grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-10)).clamp(0, 1)
    return best.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench precision", description=__doc__.split("\n")[0])
    parser.add_argument("--network", default="robust", help="a control network: standard or robust")
    parser.add_argument("--checkpoint", help="a ModelSpec JSON file instead (e.g. a trained ResNet-18)")
    parser.add_argument("--layer", default=PENULTIMATE)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--per-class", type=int, default=3, help="held-out digits per class")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = ModelSpec.from_dict(json.loads(Path(args.checkpoint).read_text())) if args.checkpoint else \
        write_controls()[args.network].spec
    loaded = load_model(spec, device=torch.device("cpu"))
    digits, _ = balanced_targets(args.per_class)
    targets = F.interpolate(digits, size=(spec.input_size,) * 2, mode="bilinear").clamp(0, 1)
    seeds = make_seeds("super-noise", shape=tuple(targets.shape), shared=True, generator=torch.Generator().manual_seed(7))
    extractors = {"fp32": FeatureExtractor(loaded, [args.layer]),
                  "fp32_unfolded": FeatureExtractor(loaded, [args.layer], fold_batchnorm=False),
                  "bf16": FeatureExtractor(loaded, [args.layer], dtype=torch.bfloat16)}
    with torch.no_grad():
        target_features = extractors["fp32"].flat(targets, args.layer)
    score = lambda images: representation_loss(extractors["fp32"].flat(images, args.layer), target_features)  # noqa: E731
    reference = score(_loop(extractors, "fp32", "same", targets, seeds, target_features, args.steps, args.layer))
    print(f"{spec.architecture} {args.layer}, {len(targets)} digits, {args.steps} steps; fp32 loop mean L_rep "
          f"{float(reference.mean()):.4f}\n| variant | mean rel. diff. vs fp32 | lower | p (Wilcoxon) |\n|---|---|---|---|")
    for label, (grad_name, choice_name) in VARIANTS.items():
        started = time.perf_counter()
        if grad_name == "auto":
            kept = _auto(loaded, targets, seeds, args)
        else:
            kept = _loop(extractors, grad_name, choice_name, targets, seeds, target_features, args.steps, args.layer)
        with torch.no_grad():
            result = paired(score(kept), reference)
        print(f"| {label} | {100 * result['relative']:+.2f}% | {result['lower']}/{result['n']} | {result['p']:.2g} |"
              f" <!-- {time.perf_counter() - started:.0f} s -->", flush=True)
    return 0


def _auto(loaded, targets, seeds, args) -> torch.Tensor:
    from iri_engine.optimize import generate  # lazy: loads torch only when this bench runs
    from iri_engine.spec import GenerationSpec  # lazy: loads torch only when this bench runs

    spec = GenerationSpec(layers=(args.layer,), iterations=args.steps, precision="auto")
    return generate(loaded, targets, spec, layer=args.layer, device=torch.device("cpu"),
                    generator=torch.Generator().manual_seed(0), seeds=seeds).iris


if __name__ == "__main__":
    raise SystemExit(main())
