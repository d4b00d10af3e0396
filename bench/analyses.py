"""Coverage of the analyses' intervals on simulated studies with known parameters (docs/method.md §3).

Usage: python -m bench analyses [--repetitions N]

Each repetition simulates participants x items with known condition effects and random-intercept
sds (surveys/scoring/simulation.py), fits, and counts whether each true value lies inside its 95%
interval: the binary mixed model's condition effects and contrasts (log-odds), the rating model's,
and 2AFC d′. The acceptance is coverage >= 0.90 for every row.
"""

import argparse
import os
import sys
import time

import numpy as np

BINARY = dict(effects=(1.0, 0.2, -0.5), participant_sd=0.5, item_sd=0.5, participants=24, items=16)
RATED = dict(effects=(5.0, 4.0, 3.0), participant_sd=0.6, item_sd=0.4, participants=20, items=12, rated=True)
D_PRIME = dict(effects=(1.2, 0.0), participant_sd=0.3, item_sd=0.3, participants=20, items=20)
ACCEPT = 0.90


def _django_setup() -> None:
    import django  # lazy: `python -m bench` imports every bench; Django only when this one runs

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret")
    django.setup()


def mixed_hits(truth, *, seed: int, paradigm: str) -> tuple[list[bool], list[bool]]:
    """(each condition effect inside its interval, each contrast inside its interval) for one fit."""
    from surveys.scoring.analyses import mixed_model  # lazy: after _django_setup()
    from surveys.scoring.simulation import simulate_responses  # lazy: after _django_setup()

    model = mixed_model(simulate_responses(truth, seed=seed), paradigm=paradigm)
    effects = truth.effects
    return ([c.low <= effects[c.condition_id - 1] <= c.high for c in model.conditions],
            [k.low <= effects[k.a - 1] - effects[k.b - 1] <= k.high for k in model.contrasts])


def true_d_prime(truth) -> list[float]:
    """√2 Φ⁻¹ of each condition's population proportion correct (random intercepts integrated out)."""
    from scipy.special import expit  # lazy: only for the true d′

    from surveys.scoring.analyses import d_prime_2afc  # lazy: after _django_setup()

    noise = np.random.default_rng(0).normal(0, np.hypot(truth.participant_sd, truth.item_sd), 1_000_000)
    shares = np.array([expit(e + noise).mean() for e in truth.effects])
    return d_prime_2afc(shares, np.full(len(shares), 1e9)).tolist()


def d_prime_hits(truth, targets: list[float], *, seed: int, resamples: int = 500) -> list[bool]:
    from surveys.scoring.analyses import condition_d_prime  # lazy: after _django_setup()
    from surveys.scoring.report import ConditionMeta, condition_scores  # lazy: after _django_setup()
    from surveys.scoring.simulation import simulate_responses  # lazy: after _django_setup()

    table = simulate_responses(truth, seed=seed)
    metas = [ConditionMeta(c + 1, f"c{c + 1}") for c in range(len(truth.effects))]
    scores = condition_scores(table, metas, paradigm="2afc", chance=0.5, resamples=resamples, seed=seed)
    return [d.low <= targets[d.condition_id - 1] <= d.high
            for d in (condition_d_prime(s, table.where(table.condition == s.condition_id)) for s in scores)]


def coverage_table(repetitions: int) -> dict[str, float]:
    """Share of repetitions whose interval held the true value, per estimate."""
    from surveys.scoring.simulation import Truth  # lazy: after _django_setup()

    binary, rated, dp = Truth(**BINARY), Truth(**RATED), Truth(**D_PRIME)
    targets = true_d_prime(dp)
    hits: dict[str, list[bool]] = {}
    for seed in range(repetitions):
        for name, truth, paradigm in (("binary", binary, "2afc"), ("rating", rated, "similarity")):
            conditions, contrasts = mixed_hits(truth, seed=seed, paradigm=paradigm)
            for i, hit in enumerate(conditions):
                hits.setdefault(f"{name} mixed model: condition {i + 1}", []).append(hit)
            for i, hit in enumerate(contrasts):
                hits.setdefault(f"{name} mixed model: contrast {i + 1}", []).append(hit)
        for i, hit in enumerate(d_prime_hits(dp, targets, seed=seed)):
            hits.setdefault(f"2AFC d′: condition {i + 1}", []).append(hit)
    return {name: float(np.mean(values)) for name, values in hits.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench analyses")
    parser.add_argument("--repetitions", type=int, default=200)
    args = parser.parse_args(argv)
    _django_setup()
    start = time.perf_counter()
    table = coverage_table(args.repetitions)
    print(f"coverage of 95% intervals over {args.repetitions} seeded repetitions "
          f"({time.perf_counter() - start:.0f} s)")
    for name, share in table.items():
        print(f"  {name:<40} {share:.3f}  {'ok' if share >= ACCEPT else 'BELOW ' + str(ACCEPT)}")
    return 0 if all(share >= ACCEPT for share in table.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
