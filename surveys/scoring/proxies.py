"""The perceptual-distance proxy beside the humans (docs/method.md §3, "Proxy alignment").

An IRI is proxy-aligned for a distance D when D(x*, x_t) <= D(x*, x_0). The engine stores, per
stimulus, ``Stimulus.proxy = {distance: {"d_target": float, "d_seed": float, "aligned": bool}}``;
a stimulus without it simply has no proxy yet, so everything here reads it defensively.
"""

import math
from dataclasses import dataclass

import numpy as np

from surveys.scoring.stats import pearson


@dataclass(frozen=True)
class ConditionProxy:
    condition_id: int
    items: int
    shares: dict[str, float]  # distance -> share of IRIs proxy-aligned
    mean: float | None  # over distances
    spread: float | None  # sd over distances (0 with a single distance)
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ProxyAgreement:
    distance: str
    items: int
    accuracy: float | None  # share of items where the proxy verdict equals the human majority
    correlation: float | None  # Pearson r: human item share vs proxy margin d_seed - d_target


def proxy_entry(value) -> tuple[float, float, bool] | None:
    """(d_target, d_seed, aligned) from one distance's stored dict, or None when it is unusable."""
    if not isinstance(value, dict):
        return None
    try:
        d_target, d_seed = float(value["d_target"]), float(value["d_seed"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(d_target) and math.isfinite(d_seed)):
        return None
    aligned = value.get("aligned")
    return d_target, d_seed, bool(aligned) if isinstance(aligned, bool) else d_target <= d_seed


def proxy_entries(proxy) -> dict[str, tuple[float, float, bool]]:
    """Every usable distance of one stimulus's proxy field (missing, empty or malformed: {})."""
    if not isinstance(proxy, dict):
        return {}
    entries = {str(name): proxy_entry(value) for name, value in proxy.items()}
    return {name: entry for name, entry in entries.items() if entry is not None}


def condition_proxy(condition_id: int, proxies: list[dict]) -> ConditionProxy:
    """Share of proxy-aligned IRIs per distance, then mean and spread over distances."""
    aligned: dict[str, list[bool]] = {}
    for proxy in proxies:
        for name, (_, _, verdict) in proxy_entries(proxy).items():
            aligned.setdefault(name, []).append(verdict)
    shares = {name: float(np.mean(verdicts)) for name, verdicts in sorted(aligned.items())}
    if not shares:
        return ConditionProxy(condition_id, 0, {}, None, None, None, None)
    values = np.array(list(shares.values()))
    return ConditionProxy(condition_id, max(len(v) for v in aligned.values()), shares, float(values.mean()),
                          float(values.std()), float(values.min()), float(values.max()))


def proxy_agreement(human_share: dict[int, float], proxies: dict[int, dict]) -> list[ProxyAgreement]:
    """Per distance: agreement of the proxy verdict with the human majority over items, and r."""
    per_distance: dict[str, list[tuple[float, float, bool]]] = {}
    for item, share in human_share.items():
        for name, (d_target, d_seed, verdict) in proxy_entries(proxies.get(item)).items():
            per_distance.setdefault(name, []).append((share, d_seed - d_target, verdict))
    result = []
    for name, rows in sorted(per_distance.items()):
        share, margin, verdict = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
        accuracy = float(np.mean((share > 0.5) == (verdict > 0.5)))
        result.append(ProxyAgreement(name, len(rows), accuracy, pearson(share, margin)))
    return result
