"""The pictures on the engine's documentation pages: ``make docs-figures``.

Every loss and option page in docs/engine shows IRIs that the choice made. This script makes them
on the download-free demo model (``iri_engine.demo``: a ResNet-18 with a fixed random init, 64 x 64
inputs) from scikit-image's sample photos, and writes one PNG per page into docs/engine/figures/
(one row per variant and target: target | starting point | IRI, with the IRI's final L_rep) and
``figures/runs.md``, the settings, final L_rep and wall time of every run.

A randomly initialised network is not a model of vision: the pictures show what each choice does
to the image (smoother, brighter, closer to the seed...), not a finding about perception. Run the
script with a registered checkpoint (``--weights``, ``--architecture``) to see trained-network IRIs.
"""

from __future__ import annotations

import argparse
import importlib.resources
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from iri_engine.demo import demo_spec
from iri_engine.io import load_target
from iri_engine.models import load_model
from iri_engine.optimize import generate
from iri_engine.proxies import PerceptualDistance
from iri_engine.seeds import make_seeds
from iri_engine.spec import LOSS_PRESETS, GenerationSpec, IriCriterion, ModelSpec

FIGURES = Path(__file__).resolve().parent / "figures"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")
CELL = 128  # pixels per shown image (64 px IRIs, enlarged without smoothing)
LABEL_W = 150
CAPTION_H = 18
ITERATIONS = 400
LAYER = "layer2"
PERCEPTUAL_LAYERS = ("layer1", "layer2")


@dataclass
class Variant:
    label: str
    spec: GenerationSpec
    layer: str = LAYER


@dataclass
class Figure:
    name: str  # the page it belongs to, e.g. "loss-freq_tv"
    variants: list[Variant]
    targets: int = 2  # how many of PHOTOS
    runs: list[dict] = field(default_factory=list)


def _spec(**changes) -> GenerationSpec:
    base = GenerationSpec(layers=(LAYER,), iterations=ITERATIONS, step_size=1.0, seed_shared=False)
    layers = (changes.pop("layer"),) if "layer" in changes else base.layers
    return replace(base, layers=layers, **changes)


def figures() -> list[Figure]:
    """Every page's picture: the variants it compares."""
    pages = [Figure(f"loss-{name}", [Variant(name, _spec(loss=name))], targets=3) for name in LOSS_PRESETS]
    layers = ("layer1", "layer2", "layer3", "avgpool")
    pages += [
        Figure("option-layers", [Variant(layer, _spec(layer=layer), layer) for layer in layers], targets=1),
        Figure("option-seed_type", [Variant(kind, _spec(seed_type=kind)) for kind in
                                    ("super-noise", "light-noise", "feather", "black", "white", "uniform")],
               targets=1),
        Figure("option-optimizer", [Variant("ngd, eta 1", _spec()),
                                    Variant("ngd_staged, 8 stages", _spec(optimizer="ngd_staged")),
                                    Variant("adam, lr 0.01", _spec(optimizer="adam", step_size=0.01))]),
        Figure("option-keep", [Variant("keep best", _spec(keep="best", optimizer="adam", step_size=0.05)),
                               Variant("keep last", _spec(keep="last", optimizer="adam", step_size=0.05))]),
        # The spectrum needs a larger learning rate than pixels (measured: 0.01 leaves L_rep near 0.6).
        Figure("option-parameterization", [Variant("pixel, adam 0.01", _spec(optimizer="adam", step_size=0.01)),
                                           Variant("fourier, adam 0.2", _spec(optimizer="adam", step_size=0.2,
                                                                              parameterization="fourier"))]),
        Figure("option-transforms", [Variant("transforms off", _spec()),
                                     Variant("lucid transforms", _spec(transforms=True))]),
        Figure("option-fake_relu", [Variant("plain ReLU", _spec()),
                                    Variant("fake ReLU", _spec(fake_relu=True))]),
        Figure("option-precision", [Variant("auto (bf16 where it pays)", _spec()),
                                    Variant("fp32", _spec(precision="fp32"))]),
        Figure("option-loss_weights", [Variant("rep 1", _spec()),
                                       Variant("rep 1, tv 0.005", _spec(loss_weights={"tv": 0.005})),
                                       Variant("rep 1, l1 0.0005", _spec(loss_weights={"l1": 0.0005}))]),
        Figure("option-adversarial_scale", [Variant("s fixed at step 1", _spec(loss="adversarial")),
                                            Variant("s = 0.1", _spec(loss="adversarial", adversarial_scale=0.1)),
                                            Variant("s = 1", _spec(loss="adversarial", adversarial_scale=1.0))]),
        Figure("option-criterion", [Variant("adversarial, no bound", _spec(loss="adversarial",
                                                                            criterion=IriCriterion(max_rep_loss=None))),
                                    Variant("adversarial, bound 0.1", _spec(loss="adversarial"))]),
        Figure("option-random_seed", [Variant("random_seed 0", _spec(random_seed=0)),
                                      Variant("random_seed 1", _spec(random_seed=1))]),
    ]
    return pages


def _photos(size: int, count: int) -> torch.Tensor:
    folder = importlib.resources.files("skimage.data")
    return torch.stack([load_target(folder.joinpath(name).read_bytes(), size=size) for name in PHOTOS[:count]])


def _run(loaded, perceptual, variant: Variant, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
    spec = variant.spec
    generator = torch.Generator().manual_seed(spec.random_seed)
    seeds = make_seeds(spec.seed_type, shape=tuple(targets.shape), shared=spec.seed_shared, generator=generator)
    started = time.perf_counter()
    result = generate(loaded, targets, spec, layer=variant.layer, device=loaded.device, generator=generator,
                      seeds=seeds, perceptual=perceptual if spec.loss.startswith("adversarial") else None)
    seconds = time.perf_counter() - started
    row = {"label": variant.label, "layer": variant.layer, "loss": spec.loss, "seconds": seconds,
           "rep": [float(v) for v in result.final_rep_loss], "scale": result.adversarial_scale}
    return result.seeds, result.iris, row


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def _tile(image: torch.Tensor) -> Image.Image:
    array = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array).resize((CELL, CELL), Image.Resampling.NEAREST)


def compose(rows: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, str]]) -> Image.Image:
    """rows of (label, target, seed, iri, caption) -> one labelled grid."""
    headers = ("target", "starting point", "IRI")
    width = LABEL_W + len(headers) * CELL
    height = CAPTION_H + len(rows) * (CELL + CAPTION_H)
    sheet = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(sheet), _font(13)
    for i, header in enumerate(headers):
        draw.text((LABEL_W + i * CELL + 4, 2), header, fill="black", font=font)
    for r, (label, target, seed, iri, caption) in enumerate(rows):
        top = CAPTION_H + r * (CELL + CAPTION_H)
        draw.text((6, top + CELL // 2 - 8), label, fill="black", font=font)
        for i, image in enumerate((target, seed, iri)):
            sheet.paste(_tile(image), (LABEL_W + i * CELL, top))
        draw.text((LABEL_W + 2 * CELL + 4, top + CELL + 2), caption, fill="black", font=font)
    return sheet


def make_figure(figure: Figure, loaded, perceptual) -> Image.Image:
    targets = _photos(loaded.spec.input_size, figure.targets)
    rows = []
    for variant in figure.variants:
        seeds, iris, run = _run(loaded, perceptual, variant, targets)
        figure.runs.append(run)
        for i in range(targets.shape[0]):
            rows.append((variant.label, targets[i], seeds[i], iris[i], f"L_rep {run['rep'][i]:.3f}"))
    return compose(rows)


def _runs_table(done: list[Figure], model: ModelSpec) -> str:
    lines = ["# Runs behind the pictures", "",
             f"Written by `docs/engine/gallery.py` (`make docs-figures`). Model: `{model.architecture}` "
             f"{model.input_size} x {model.input_size}, weights `{model.weights_path or f'random init {model.init_seed}'}`;"
             f" {ITERATIONS} iterations; targets: scikit-image's {', '.join(PHOTOS)}; adversarial distance:"
             f" unit-normalised channels over the same network's {' + '.join(PERCEPTUAL_LAYERS)}.", "",
             "| page | variant | layer | loss | final L_rep per target | s | wall s |", "|---|---|---|---|---|---|---|"]
    for figure in done:
        for run in figure.runs:
            scale = "" if run["scale"] is None else f"{run['scale']:.3g}"
            lines.append(f"| [{figure.name}]({figure.name}.png) | {run['label']} | {run['layer']} | {run['loss']} | "
                         f"{', '.join(f'{v:.3f}' for v in run['rep'])} | {scale} | {run['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docs/engine/gallery.py", description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="page names to redo (default: all)")
    parser.add_argument("--architecture", default=None, help="torchvision name, with --weights")
    parser.add_argument("--weights", default=None, help="a local checkpoint instead of the demo's random init")
    parser.add_argument("--size", type=int, default=None, help="input size in pixels (with --weights)")
    args = parser.parse_args(argv)
    model = demo_spec(None)
    if args.weights:
        model = replace(model, architecture=args.architecture or model.architecture, weights_path=args.weights,
                        input_size=args.size or model.input_size, num_classes=None)
    loaded = load_model(model, device=torch.device("cpu"))
    perceptual = PerceptualDistance(loaded, PERCEPTUAL_LAYERS)
    FIGURES.mkdir(exist_ok=True)
    done = []
    for figure in figures():
        if args.only and figure.name not in args.only:
            continue
        started = time.perf_counter()
        make_figure(figure, loaded, perceptual).save(FIGURES / f"{figure.name}.png", optimize=True)
        done.append(figure)
        print(f"{figure.name}: {time.perf_counter() - started:.1f} s", flush=True)
    if not args.only:
        (FIGURES / "runs.md").write_text(_runs_table(done, model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
