"""Engine benchmark: ``python -m bench engine`` (part of ``make bench``).

Runs the engine's ``generate`` (as the generation runner calls it, default precision ``auto``)
and a plain re-implementation of the published loop side by side on the same network, layer,
targets, seed and number of steps, and prints per row: image-iterations per second of each and
the speed-up; the final L_rep of every image under both, compared image by image (how many the
engine ends lower on, the mean relative difference, and a Wilcoxon signed-rank p-value); and a
verdict: ``not worse`` when the engine's mean L_rep is lower or the difference is not significant
(p > 0.05), else ``WORSE``.

Networks (``--networks``): ``standard`` and ``robust``, the trained control networks of
``iri_engine.controls`` (small ResNets, 32 x 32 digits, weights in the repository), on held-out
digits; ``resnet18``, torchvision's ResNet-18 with a fixed random init, on smooth random images at
each of ``--sizes`` (the size a GPU figure needs: ``--device cuda --networks resnet18 --sizes 224
--batch 64``); or any ModelSpec JSON file with ``--checkpoint`` (e.g. a lab's trained ResNet-18),
on held-out digits resized to its input size.

The baseline is written the way the reference code (Nanda et al.'s ``Attacker`` with
``UnconstrainedStep``) sets things up: an eval-mode copy of the network whose parameters keep
``requires_grad=True``, a full forward each step with a hook capturing the layer, fp32,
``loss.item()`` logged every step, ``autograd.grad`` of the batch-mean loss, the normalised step
``x - eta g / (||g|| + 1e-10)`` clamped to [0, 1], the best iterate kept with boolean-mask
updates, and one more evaluation after the last step. ``--faithful`` adds the reference's second,
discarded forward per step (left out by default, which flatters the baseline).

Final L_rep depends on every rounding along the way: two runs of the same arithmetic summed in a
different order drift apart image by image. ``--yardstick`` runs the baseline once more on a
channels_last copy of the network (the same arithmetic, summed in another order) and prints how far
that alone moves it, with its own p-value. Speed comes from ``--repeats`` alternated pairs of
whole runs (baseline, then engine); the speed-up is the median of the pair ratios. The header
names the hardware and whether it runs bf16 natively (which decides what ``auto`` does); on CUDA
the engine's achieved FLOP rate is also given as a share of the GPU's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from iri_engine.controls import balanced_targets, write_controls
from iri_engine.devices import bf16_pays, pick_device
from iri_engine.models import LoadedModel, load_model
from iri_engine.optimize import generate
from iri_engine.seeds import make_seeds
from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD, GenerationSpec, ModelSpec

INIT_SEED = 0
# Hook targets of the baseline where the engine's layer name is a graph node, not a module.
BASELINE_MODULES = {"flatten": "avgpool"}
# Dense (no sparsity) bf16 tensor peak in TFLOP/s of GPUs a lab is likely to have; --peak-tflops
# overrides. From the vendors' data sheets.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0,
                    "L40S": 362.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0, "RTX 3090": 71.0}
SIGNIFICANCE = 0.05


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline_generate(model, layer: str, targets, seeds, steps: int, eta: float = 1.0, *, mean, std,
                      extra_forward: bool = False) -> torch.Tensor:
    """The published loop, plainly (see module docstring). Returns the kept images."""
    mean = torch.tensor(mean, device=targets.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=targets.device).view(1, 3, 1, 1)
    captured = {}
    module = model.get_submodule(BASELINE_MODULES.get(layer, layer))
    hook = module.register_forward_hook(lambda mod, inputs, output: captured.__setitem__("rep", output))
    try:
        with torch.no_grad():
            model((targets - mean) / std)
            target_rep = captured["rep"].flatten(1).clone()

        def losses_of(x):
            model((x - mean) / std)
            rep = captured["rep"].flatten(1)
            return (rep - target_rep).norm(dim=1) / target_rep.norm(dim=1)

        x, best_loss, best_x, logged = seeds.clone(), None, None, []
        for _ in range(steps):
            x = x.clone().detach().requires_grad_(True)
            if extra_forward:
                model(x)  # the reference's calc_loss output, never used
            losses = losses_of(x)
            loss = losses.mean()
            logged.append(loss.item())
            (grad,) = torch.autograd.grad(loss, [x])
            with torch.no_grad():
                best_loss, best_x = _replace_best(losses, best_loss, x, best_x)
                norm = grad.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
                x = (x + (-1) * grad / (norm + 1e-10) * eta).clamp(0, 1)
        with torch.no_grad():
            _, best_x = _replace_best(losses_of(x), best_loss, x, best_x)
        return best_x
    finally:
        hook.remove()


def _replace_best(loss, best_loss, x, best_x):
    if best_loss is None:
        return loss.clone().detach(), x.clone().detach()
    replace = best_loss > loss
    best_x[replace] = x[replace].clone().detach()
    best_loss[replace] = loss[replace]
    return best_loss, best_x


def plain_copy(loaded: LoadedModel) -> torch.nn.Module:
    """The network as the reference code holds it: eval mode, contiguous, parameters requiring grad."""
    model = copy.deepcopy(loaded.network).to(memory_format=torch.contiguous_format)
    return model.eval().requires_grad_(True)


def rep_losses(model, layer: str, targets, images, *, mean, std) -> torch.Tensor:
    """Per-image L_rep (B,) of ``images`` by one plain fp32 forward of ``model``: every loop's
    kept images are scored by the same yardstick."""
    captured = {}
    hook = model.get_submodule(BASELINE_MODULES.get(layer, layer)).register_forward_hook(
        lambda mod, inputs, output: captured.__setitem__("rep", output))
    mean_t = torch.tensor(mean, device=targets.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=targets.device).view(1, 3, 1, 1)
    try:
        with torch.no_grad():
            model((targets - mean_t) / std_t)
            target = captured["rep"].flatten(1).clone()
            model((images - mean_t) / std_t)
            return ((captured["rep"].flatten(1) - target).norm(dim=1) / target.norm(dim=1)).cpu()
    finally:
        hook.remove()


def paired(engine: torch.Tensor, baseline: torch.Tensor) -> dict:
    """Image-by-image comparison of final L_rep: lower count, mean relative difference, Wilcoxon p."""
    from scipy.stats import wilcoxon  # lazy: only the report needs it

    difference = engine.double() - baseline.double()
    p = 1.0 if bool((difference == 0).all()) else float(wilcoxon(engine.numpy(), baseline.numpy()).pvalue)
    return {"lower": int((difference < 0).sum()), "n": len(difference), "p": p,
            "relative": float((difference / baseline.double()).mean())}


def verdict(engine: torch.Tensor, baseline: torch.Tensor, p: float) -> str:
    """"not worse" when the engine's mean L_rep is lower or the difference is not significant."""
    return "not worse" if float(engine.mean()) <= float(baseline.mean()) or p > SIGNIFICANCE else "WORSE"


def _seconds(fn, device) -> tuple[float, torch.Tensor]:
    _sync(device)
    started = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - started, out


def _setup(network: str, size: int, batch: int, device, checkpoint: str | None) -> tuple[LoadedModel, torch.Tensor]:
    """The loaded network and its targets (B, 3, size, size) on ``device``."""
    if checkpoint:
        spec = ModelSpec.from_dict(json.loads(Path(checkpoint).read_text()))
    elif network == "resnet18":
        spec = ModelSpec("resnet18", None, size, IMAGENET_MEAN, IMAGENET_STD, init_seed=INIT_SEED)
    else:
        spec = write_controls()[network].spec
    loaded = load_model(spec, device=device)
    if network == "resnet18" and not checkpoint:
        coarse = torch.rand(batch, 3, 6, 6, generator=torch.Generator().manual_seed(42))
        targets = F.interpolate(coarse, size=(size, size), mode="bicubic").clamp(0, 1)
    else:
        digits, _ = balanced_targets(-(-batch // 10))
        targets = F.interpolate(digits[:batch], size=(spec.input_size,) * 2, mode="bilinear").clamp(0, 1)
    return loaded, targets.to(device)


def bench_one(network: str, size: int, layer: str, *, batch: int, steps: int, repeats: int, device,
              precision: str = "auto", faithful: bool = False, yardstick: bool = False,
              checkpoint: str | None = None) -> dict:
    """One row (see the module docstring)."""
    loaded, targets = _setup(network, size, batch, device, checkpoint)
    plain, stats = plain_copy(loaded), {"mean": loaded.spec.mean, "std": loaded.spec.std}
    seeds = make_seeds("super-noise", shape=tuple(targets.shape), shared=True,
                       generator=torch.Generator().manual_seed(7)).to(device)
    spec = GenerationSpec(layers=(layer,), iterations=steps, step_size=1.0, precision=precision)

    def engine(n: int = steps) -> torch.Tensor:
        return generate(loaded, targets, GenerationSpec.from_dict({**spec.to_dict(), "iterations": n}), layer=layer,
                        device=device, generator=torch.Generator().manual_seed(0), seeds=seeds).iris.to(device)

    def baseline(n: int = steps, model=plain) -> torch.Tensor:
        return baseline_generate(model, layer, targets, seeds, n, extra_forward=faithful, **stats)

    engine(2)  # warm-up: allocator, kernels, the engine's extractor cache
    baseline(2)
    times, kept = {"baseline": [], "engine": []}, {}
    for _ in range(repeats):
        for name, run in (("baseline", baseline), ("engine", engine)):
            seconds, kept[name] = _seconds(run, device)
            times[name].append(seconds)
    losses = {name: rep_losses(plain, layer, targets, images, **stats) for name, images in kept.items()}
    row = {"network": checkpoint or network, "size": loaded.spec.input_size, "layer": layer, "batch": len(targets),
           "steps": steps, "baseline_rep": float(losses["baseline"].mean()),
           "engine_rep": float(losses["engine"].mean()), **paired(losses["engine"], losses["baseline"]),
           **_speed(times, len(targets) * steps)}
    row["verdict"] = verdict(losses["engine"], losses["baseline"], row["p"])
    if yardstick:
        # The same network in channels_last: the same arithmetic, summed in another order.
        reordered = copy.deepcopy(plain).to(memory_format=torch.channels_last)
        row["yardstick"] = paired(rep_losses(plain, layer, targets, baseline(model=reordered), **stats),
                                  losses["baseline"])
    row["engine_gflops"] = _flops_per_step(engine) * row["engine_ips"] / len(targets) / 1e9
    return row


def _speed(times: dict, image_iterations: int) -> dict:
    ratios = [b / e for b, e in zip(times["baseline"], times["engine"], strict=True)]
    return {"baseline_ips": image_iterations / statistics.median(times["baseline"]),
            "engine_ips": image_iterations / statistics.median(times["engine"]),
            "speedup": statistics.median(ratios), "speedup_low": min(ratios), "speedup_high": max(ratios)}


def _flops_per_step(run_for) -> float:
    """Convolution and matmul FLOPs of one engine step, forward and backward (torch's
    FlopCounterMode): the difference between 4 and 2 steps, halved, so set-up cancels out."""
    from torch.utils.flop_counter import FlopCounterMode  # lazy: only the FLOP count needs it

    totals = []
    for steps in (2, 4):
        counter = FlopCounterMode(display=False)
        with counter:
            run_for(steps)
        totals.append(counter.get_total_flops())
    return (totals[1] - totals[0]) / 2


def _table(rows: list[dict], peak_tflops: float | None) -> str:
    header = ["network", "size", "layer", "batch", "steps", "baseline img-it/s", "engine img-it/s",
              "speed-up (range)", "baseline L_rep", "engine L_rep", "engine lower", "mean rel. diff.",
              "p (Wilcoxon)", "verdict", "engine GFLOP/s"]
    if peak_tflops:
        header.append("share of bf16 peak")
    if any("yardstick" in r for r in rows):
        header.append("reorder yardstick: rel. diff., p")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["network"], f"{r['size']}", r["layer"], f"{r['batch']}", f"{r['steps']}",
                 f"{r['baseline_ips']:.1f}", f"{r['engine_ips']:.1f}",
                 f"{r['speedup']:.2f}x ({r['speedup_low']:.2f}-{r['speedup_high']:.2f})",
                 f"{r['baseline_rep']:.4f}", f"{r['engine_rep']:.4f}", f"{r['lower']}/{r['n']}",
                 f"{100 * r['relative']:+.2f}%", f"{r['p']:.3g}", r["verdict"], f"{r['engine_gflops']:.0f}"]
        if peak_tflops:
            cells.append(f"{100 * r['engine_gflops'] / (1000 * peak_tflops):.1f}%")
        if "yardstick" in r:
            cells.append(f"{100 * r['yardstick']['relative']:+.2f}%, {r['yardstick']['p']:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def hardware(device: torch.device) -> str:
    """What the figures were measured on, including whether "auto" precision means bf16 there."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
                    "unknown CPU")
    return f"{name}, native bf16: {'yes' if bf16_pays(device) else 'no'}"


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    """The GPU's dense bf16 peak (TFLOP/s) from BF16_PEAK_TFLOPS or ``override``; None on CPUs."""
    if override or device.type != "cuda":
        return override
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in BF16_PEAK_TFLOPS.items() if key in name), None)


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return fh.readlines()
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench engine", description=__doc__.split("\n")[0])
    parser.add_argument("--networks", nargs="+", default=["standard", "robust"],
                        help="standard, robust (trained controls), resnet18 (random init)")
    parser.add_argument("--checkpoint", help="a ModelSpec JSON file to bench instead of --networks")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64], help="input sizes for resnet18")
    parser.add_argument("--layers", nargs="+", default=["avgpool"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1, help="alternated pairs of whole runs timed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32"])
    parser.add_argument("--faithful", action="store_true", help="the reference's discarded forward per step")
    parser.add_argument("--yardstick", action="store_true", help="also measure how far fp32 reordering moves L_rep")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, if not known")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = peak_tflops(device, args.peak_tflops)
    print(f"device={device} ({hardware(device)}) threads={torch.get_num_threads()} torch={torch.__version__} "
          f"batch={args.batch} steps={args.steps} precision={args.precision} repeats={args.repeats}"
          f"{f' bf16 peak={peak:g} TFLOP/s' if peak else ''}{' faithful baseline' if args.faithful else ''}", flush=True)
    rows = []
    networks = [args.checkpoint] if args.checkpoint else args.networks
    for network in networks:
        for size in (args.sizes if network == "resnet18" else [0]):
            for layer in args.layers:
                rows.append(bench_one(network, size, layer, batch=args.batch, steps=args.steps, repeats=args.repeats,
                                      device=device, precision=args.precision, faithful=args.faithful,
                                      yardstick=args.yardstick, checkpoint=args.checkpoint))
                print(f"  done {network} {layer}: {rows[-1]['speedup']:.2f}x, {rows[-1]['verdict']}", flush=True)
    print(_table(rows, peak))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
