"""Device choice and what a device is good at. Nothing here runs at import time."""

from __future__ import annotations

import functools
import sys

import torch


def pick_device(name: str = "auto") -> torch.device:
    """Return the device named by ``name``: ``"auto"`` (CUDA if available, else CPU),
    ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``. Raises ValueError for an unknown or
    unavailable device, so a worker misconfiguration fails at start-up, not mid-job."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} requested but CUDA is not available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device type {device.type!r}")
    return device


def bf16_pays(device: torch.device) -> bool:
    """Whether a bfloat16 autocast forward is faster than fp32 on ``device``.

    True on CUDA devices with native bf16 and on CPUs with AVX-512 BF16 or AMX; elsewhere
    (e.g. an AVX2-only CPU) bf16 is emulated and measured 5-10x slower than fp32 (bench/).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return _cpu_has_native_bf16()
    return False


@functools.lru_cache(maxsize=1)
def _cpu_has_native_bf16() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        return False
    words = set(flags.split())
    return bool(words & {"avx512_bf16", "amx_bf16"})
