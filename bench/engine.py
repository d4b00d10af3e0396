"""Engine benchmark: ``python -m bench.engine`` (``make bench``).

Runs the engine's ``generate`` and a plain re-implementation of the published loop side by side
on the same model (torchvision ResNet-18, random init, fixed seed), targets, seeds and steps, and
prints image-iterations per second, final mean L_rep and the speed ratio.

The baseline is written the way the reference code (Nanda et al.'s deep-learning-base
``Attacker`` with ``UnconstrainedStep``) sets things up: an eval-mode model whose parameters keep
``requires_grad=True``, a full forward of the whole network each step with a hook capturing the
layer, fp32, ``loss.item()`` logged every step, ``autograd.grad`` of the batch-mean loss, the
normalised step ``x - eta g / (||g|| + 1e-10)`` clamped to [0, 1], the best iterate kept with
boolean-mask updates, and one more evaluation after the last step. (The reference additionally
runs a second, discarded forward of the model on the raw input each step; the baseline leaves it
out by default, which flatters the baseline; ``--faithful`` puts it back.)

Both runs' kept images are scored by the same plain fp32 forward, so the L_rep columns compare
like with like. Final L_rep after a fixed number of steps depends on every rounding along the way,
so "equal" needs a yardstick: the baseline is run once more, untimed, on a channels_last copy of the
model (the same arithmetic summed in another order), and the difference between its L_rep and the
baseline's is the spread that floating-point reordering alone produces. The verdict column says
"lower" or "equal" (within that spread, or 0.5% when the spread is smaller) or "HIGHER".

Speed is timed apart from L_rep, on pairs of short runs (``--chunk`` steps, baseline then engine,
``--repeats`` times as many pairs as the steps hold chunks): on a machine shared with other work
both runs of a pair meet the same slow spell, and the reported speed-up is the median of the pair
ratios, with their range beside it. The header names the hardware and whether it runs bf16
natively, which decides what ``precision="auto"`` does. The FLOP ratio column (convolution and
matmul operations per step, counted by torch) says how much of the speed-up fewer operations explain.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import replace

import torch
import torchvision

from iri_engine.devices import bf16_pays, pick_device
from iri_engine.models import load_model
from iri_engine.optimize import generate
from iri_engine.seeds import make_seeds
from iri_engine.spec import GenerationSpec, ModelSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INIT_SEED = 0
DEFAULT_CHUNK = 25  # steps per timed run
# Hook targets of the baseline for each layer name the engine takes ("flatten" is a function in
# torchvision's ResNet, so its value is avgpool's output, flattened).
BASELINE_MODULES = {"layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4",
                    "avgpool": "avgpool", "flatten": "avgpool"}


def _smooth_targets(count: int, size: int) -> torch.Tensor:
    coarse = torch.rand(count, 3, 6, 6, generator=torch.Generator().manual_seed(42))
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic").clamp(0, 1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline_generate(model, layer: str, targets, seeds, steps: int, eta: float = 1.0, *,
                      extra_forward: bool = False) -> torch.Tensor:
    """The published loop, plainly (see module docstring). Returns the kept images.

    ``extra_forward``: also run the reference's discarded full forward on the raw input each step.
    """
    mean = torch.tensor(IMAGENET_MEAN, device=targets.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=targets.device).view(1, 3, 1, 1)
    captured = {}
    module = model.get_submodule(BASELINE_MODULES[layer])
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


def _plain_model(loaded, device):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        model = torchvision.models.resnet18()
    model.load_state_dict({k: v.contiguous() for k, v in loaded.network.state_dict().items()})
    return model.eval().to(device)  # parameters keep requires_grad=True, as in the reference


def _rep_loss(model, layer, targets, images) -> float:
    with torch.no_grad():
        return float(_losses_once(model, layer, targets, images).mean())


def _losses_once(model, layer, targets, images):
    captured = {}
    hook = model.get_submodule(BASELINE_MODULES[layer]).register_forward_hook(
        lambda mod, inputs, output: captured.__setitem__("rep", output))
    mean = torch.tensor(IMAGENET_MEAN, device=targets.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=targets.device).view(1, 3, 1, 1)
    try:
        model((targets - mean) / std)
        target = captured["rep"].flatten(1).clone()
        model((images - mean) / std)
        return (captured["rep"].flatten(1) - target).norm(dim=1) / target.norm(dim=1)
    finally:
        hook.remove()


def _seconds(fn, device) -> float:
    _sync(device)
    started = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - started


def bench_one(size: int, layer: str, *, batch: int, steps: int, repeats: int, device,
              faithful: bool = False, precision: str = "auto", chunk: int = DEFAULT_CHUNK) -> dict:
    """One row: final L_rep of a full ``steps`` run of each loop, and their speeds from
    ``repeats * steps // chunk`` alternated pairs of ``chunk``-step runs."""
    spec = ModelSpec("resnet18", None, size, IMAGENET_MEAN, IMAGENET_STD, init_seed=INIT_SEED)
    loaded = load_model(spec, device=device)
    plain = _plain_model(loaded, device)
    targets = _smooth_targets(batch, size).to(device)
    seeds = make_seeds("super-noise", shape=(batch, 3, size, size), shared=True,
                       generator=torch.Generator().manual_seed(7)).to(device)
    gen_spec = GenerationSpec(layers=(layer,), iterations=steps, step_size=1.0, precision=precision)

    def engine(n: int) -> torch.Tensor:
        return generate(loaded, targets, replace(gen_spec, iterations=n), layer=layer, device=device,
                        generator=torch.Generator().manual_seed(0), seeds=seeds).iris.to(device)

    def baseline(n: int) -> torch.Tensor:
        return baseline_generate(plain, layer, targets, seeds, n, extra_forward=faithful)

    engine(2)  # warm-up: allocator, oneDNN kernels, the engine's extractor cache
    baseline(2)
    row = {"size": size, "layer": layer, "batch": batch, "steps": steps,
           "baseline_rep": _rep_loss(plain, layer, targets, baseline(steps)),
           "engine_rep": _rep_loss(plain, layer, targets, engine(steps))}
    chunk = min(chunk, steps)
    row.update(_speeds(engine, baseline, batch=batch, chunk=chunk, pairs=repeats * (steps // chunk), device=device))
    reordered = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    with_reordering = baseline_generate(reordered, layer, targets.contiguous(memory_format=torch.channels_last),
                                        seeds.contiguous(memory_format=torch.channels_last), steps,
                                        extra_forward=faithful)
    row["reorder_spread"] = abs(_rep_loss(plain, layer, targets, with_reordering) - row["baseline_rep"])
    row["verdict"] = _verdict(row["engine_rep"], row["baseline_rep"], row["reorder_spread"])
    # How much of the speed-up fewer operations explain; the rest is precision, layout and overhead.
    engine_flops = _flops_per_step(engine)
    row["flop_ratio"] = _flops_per_step(baseline) / engine_flops
    # Achieved rate, to set beside the device's peak (a step's FLOPs cover the whole batch).
    row["engine_gflops"] = engine_flops * row["engine_ips"] / batch / 1e9
    return row


def _speeds(engine, baseline, *, batch: int, chunk: int, pairs: int, device) -> dict:
    """Image-iterations per second of each loop and the engine's speed-up, from ``pairs`` pairs of
    ``chunk``-step runs, baseline then engine. A shared machine has slow spells lasting seconds to
    minutes; short runs side by side put both loops of a pair in the same spell, and the median of
    the pair ratios ignores the pairs a spell split. Each run includes its set-up and final
    evaluation, as a job's batch does."""
    seconds = {"baseline": [], "engine": []}
    for _ in range(pairs):
        seconds["baseline"].append(_seconds(lambda: baseline(chunk), device))
        seconds["engine"].append(_seconds(lambda: engine(chunk), device))
    ratios = [b / e for b, e in zip(seconds["baseline"], seconds["engine"], strict=True)]
    return {"baseline_ips": batch * chunk / statistics.median(seconds["baseline"]),
            "engine_ips": batch * chunk / statistics.median(seconds["engine"]),
            "speedup": statistics.median(ratios), "speedup_low": min(ratios), "speedup_high": max(ratios)}


def _flops_per_step(run_for) -> float:
    """Convolution and matmul FLOPs of one step of ``run_for(steps)``, forward and backward, counted
    by torch's FlopCounterMode: the difference between 4 and 2 steps, halved, so the set-up and the
    final evaluation cancel out. Counting, not timing: it says how much work each loop asks for."""
    from torch.utils.flop_counter import FlopCounterMode

    totals = []
    for steps in (2, 4):
        counter = FlopCounterMode(display=False)
        with counter:
            run_for(steps)
        totals.append(counter.get_total_flops())
    return (totals[1] - totals[0]) / 2


def _verdict(engine_rep: float, baseline_rep: float, spread: float) -> str:
    """Compare final L_rep: "lower", "equal" (within the reordering spread, at least 0.5%) or "HIGHER"."""
    tolerance = max(spread, 0.005 * baseline_rep)
    if engine_rep < baseline_rep - tolerance:
        return "lower"
    return "equal" if engine_rep <= baseline_rep + tolerance else "HIGHER"


def _table(rows: list[dict]) -> str:
    header = ("size", "layer", "batch", "steps", "baseline img-it/s", "engine img-it/s", "speedup (range)",
              "FLOP ratio", "engine GFLOP/s", "baseline L_rep", "engine L_rep", "fp32 reorder spread",
              "L_rep verdict")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = (f"{r['size']}", r["layer"], f"{r['batch']}", f"{r['steps']}", f"{r['baseline_ips']:.1f}",
                 f"{r['engine_ips']:.1f}", f"{r['speedup']:.2f}x ({r['speedup_low']:.2f}-{r['speedup_high']:.2f})", f"{r['flop_ratio']:.2f}x",
                 f"{r['engine_gflops']:.0f}", f"{r['baseline_rep']:.4f}", f"{r['engine_rep']:.4f}",
                 f"{r['reorder_spread']:.4f}", r["verdict"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _hardware(device: torch.device) -> str:
    """What the figures were measured on, including whether "auto" precision means bf16 there."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
                    "unknown CPU")
    return f"{name}, native bf16: {'yes' if bf16_pays(device) else 'no'}"


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return fh.readlines()
    except OSError:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--layers", nargs="+", default=["layer3", "avgpool"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="timed pairs per chunk the steps hold")
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="steps per timed run")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32"],
                        help="the engine's precision (auto: bf16 where the device has it natively)")
    parser.add_argument("--faithful", action="store_true",
                        help="give the baseline the reference's second, discarded forward per step")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device={device} ({_hardware(device)}) threads={torch.get_num_threads()} torch={torch.__version__} "
          f"batch={args.batch} steps={args.steps} precision={args.precision} "
          f"timed: median of {args.repeats * max(1, args.steps // args.chunk)} pairs of {args.chunk}-step runs"
          f"{' faithful baseline (2 forwards/step)' if args.faithful else ''}", flush=True)
    rows = []
    for size in args.sizes:
        for layer in args.layers:
            rows.append(bench_one(size, layer, batch=args.batch, steps=args.steps, repeats=args.repeats,
                                  chunk=args.chunk, device=device, faithful=args.faithful,
                                  precision=args.precision))
            print(f"  done {size}px {layer}: {rows[-1]['speedup']:.2f}x", flush=True)
    print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
