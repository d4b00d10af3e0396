"""Train the control networks: ``python -m iri_engine.controls.train --out DIR``.

The committed weights in ``iri_engine/controls/weights`` were made by the command recorded in
their ``manifest.json`` (on 2 CPU cores, one thread, a few minutes). Training is deterministic on
one CPU thread for a given torch version; the manifest records the accuracies measured on the
held-out split, clean and under the same L2 attack used for the robust network.

Adversarial training (Madry et al., 2018): each batch is replaced by its L2 PGD adversarial
examples (``--pgd-steps`` steps of ``2.5 eps / steps``, radius ``--eps`` in [0, 1] pixel space,
images kept in [0, 1]), found with the network in eval mode.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from iri_engine.controls import CONTROLS, DIGITS_MEAN, DIGITS_STD, digits
from iri_engine.controls.net import DigitsResNet
from iri_engine.models import sha256_file

SEEDS = {"standard": 1, "robust": 2, "observer": 3}
SHIFT = 2  # pixels of random translation, the only augmentation


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(DIGITS_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(DIGITS_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def pgd_l2(network, images: torch.Tensor, labels: torch.Tensor, *, eps: float, steps: int) -> torch.Tensor:
    """L2 PGD adversarial examples within ``eps`` of ``images`` (B, 3, H, W) in [0, 1]."""
    if eps <= 0 or steps <= 0:
        return images
    alpha = 2.5 * eps / steps
    delta = torch.zeros_like(images, requires_grad=True)
    for _ in range(steps):
        loss = F.cross_entropy(network(_normalize(images + delta)), labels)
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            norms = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            delta += alpha * grad / norms
            scale = (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1.0).view(-1, 1, 1, 1)
            delta.mul_(scale)
            delta.copy_((images + delta).clamp(0, 1) - images)
    return (images + delta).detach()


def _shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    padded = F.pad(images, (SHIFT,) * 4)
    dx, dy = (int(v) for v in torch.randint(0, 2 * SHIFT + 1, (2,), generator=generator))
    return padded[..., dy:dy + images.shape[-2], dx:dx + images.shape[-1]]


def train(name: str, *, epochs: int, eps: float, pgd_steps: int, batch: int = 64, lr: float = 0.05) -> DigitsResNet:
    """One control network, trained from the seed of ``name`` (eps 0: standard training)."""
    torch.manual_seed(SEEDS[name])
    generator = torch.Generator().manual_seed(SEEDS[name])
    images, labels = digits("train")
    network = DigitsResNet()
    optimizer = torch.optim.SGD(network.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps_per_epoch = math.ceil(len(labels) / batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch)
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(labels), batch):
            picked = order[start:start + batch]
            x, y = _shift(images[picked], generator), labels[picked]
            network.eval()
            x = pgd_l2(network, x, y, eps=eps, steps=pgd_steps)
            network.train()
            loss = F.cross_entropy(network(_normalize(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"  {name} epoch {epoch + 1}/{epochs} loss {float(loss.detach()):.3f}", flush=True)
    return network.eval()


def accuracy(network, *, eps: float, pgd_steps: int) -> float:
    """Accuracy on the held-out split, clean (eps 0) or under L2 PGD of radius eps."""
    images, labels = digits("test")
    attacked = pgd_l2(network, images, labels, eps=eps, steps=pgd_steps)
    with torch.no_grad():
        return float((network(_normalize(attacked)).argmax(1) == labels).double().mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iri_engine.controls.train", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for <name>.safetensors and manifest.json")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--eps", type=float, default=2.0, help="L2 radius of the robust network's adversary")
    parser.add_argument("--pgd-steps", type=int, default=5)
    args = parser.parse_args(argv)
    from safetensors.torch import save_file  # lazy: after parsing, so --help answers at once

    torch.set_num_threads(1)  # deterministic, and polite on a shared machine
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"command": "python -m iri_engine.controls.train " + shlex.join(sys.argv[1:] if argv is None else argv),
              "torch": torch.__version__, "settings": vars(args), "networks": {}}
    for name in CONTROLS:
        started = time.perf_counter()
        eps = args.eps if name == "robust" else 0.0
        network = train(name, epochs=args.epochs, eps=eps, pgd_steps=args.pgd_steps)
        path = out / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
        record["networks"][name] = {
            "seed": SEEDS[name], "adversary_eps": eps, "train_seconds": round(time.perf_counter() - started, 1),
            "test_accuracy": accuracy(network, eps=0.0, pgd_steps=0),
            "test_accuracy_under_attack": accuracy(network, eps=args.eps, pgd_steps=args.pgd_steps),
            "sha256": sha256_file(str(path))}
        print(f"{name}: {record['networks'][name]}", flush=True)
    (out / "manifest.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
