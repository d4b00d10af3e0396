"""Participant-path benchmark: the same participants through another revision's code beside this one.

Usage: python -m bench participant [--baseline REF] [--participants N] [--items I] [--rounds R]

Issue 8 allows nothing in the participant flow to get more than 10% slower. This runs one workload
(bench/participant_flow.py: start page, entry, consent, the runner's trial fetches, images, answers,
finish, through Django's test client against the configured database, PostgreSQL when
DATABASE_URL is set) in a copy of REF's tree (`git archive`, default main) and in this tree, in
alternating rounds of fresh processes, and prints the median milliseconds per request of each
endpoint side by side with their ratio (this tree / REF): the web process's CPU time, which a busy
shared machine disturbs little, and the wall clock, which includes the database's share.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOW = Path(__file__).resolve().parent / "participant_flow.py"
# Rate limits stay on (their cost is part of the path) but high enough never to refuse the workload.
UNLIMITED = {"IRIS_PARTICIPANT_RATE": "1000000/m", "IRIS_IMAGE_RATE": "1000000/m",
             "IRIS_ADDRESS_RATE": "1000000/m"}


def tree_at(ref: str, into: Path) -> Path:
    """REF's files (no history) under ``into``, sharing this tree's node_modules."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as buffer:
        buffer.write(archive)
        buffer.seek(0)
        with tarfile.open(fileobj=buffer) as tar:
            tar.extractall(into, filter="data")
    if (ROOT / "node_modules").exists():
        (into / "node_modules").symlink_to(ROOT / "node_modules")
    return into


def run_flow(tree: Path, *, label: str, participants: int, items: int) -> dict[str, dict[str, list[float]]]:
    """One round: a fresh process importing ``tree``'s code; milliseconds per request by endpoint,
    wall-clock ("wall") and the process's CPU ("cpu")."""
    env = {**os.environ, **UNLIMITED, "PYTHONPATH": str(tree), "BENCH_DB_SUFFIX": label}
    done = subprocess.run([sys.executable, str(FLOW), str(participants), str(items)], cwd=tree, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the {label} round failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(baseline: list[dict], new: list[dict]) -> list[tuple[str, float, float]]:
    """(endpoint, baseline ms, new ms): the median over rounds of each round's median, per endpoint;
    last, the whole flow per answer."""
    rows = []
    for endpoint in baseline[0]:
        base = statistics.median(statistics.median(r[endpoint]) for r in baseline)
        ours = statistics.median(statistics.median(r[endpoint]) for r in new)
        rows.append((endpoint, base, ours))
    # The flow's cost per answer: each endpoint's median weighted by how often the flow calls it.
    calls = {endpoint: len(times) / len(baseline[0]["respond"]) for endpoint, times in baseline[0].items()}
    rows.append(("the flow, per answer", sum(calls[e] * b for e, b, _ in rows), sum(calls[e] * o for e, _, o in rows)))
    return rows


def report(baseline: list[dict], new: list[dict], *, ref: str) -> None:
    for clock, meaning in (("cpu", "CPU ms of the web process"), ("wall", "wall-clock ms")):
        print(f"\n{meaning} per request (median); ratio = this tree / {ref}")
        print(f"{'endpoint':<26}{ref:>10}{'this tree':>11}{'ratio':>8}")
        for endpoint, base, ours in table([r[clock] for r in baseline], [r[clock] for r in new]):
            print(f"{endpoint:<26}{base:>10.2f}{ours:>11.2f}{ours / base:>8.2f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench participant", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="main", help="git revision to compare against (default: main)")
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--items", type=int, default=12, help="trials per participant")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    args = parser.parse_args(argv)
    baseline, new = [], []
    with tempfile.TemporaryDirectory(prefix="iris-bench-") as scratch:
        base_tree = tree_at(args.baseline, Path(scratch))
        for round_number in range(args.rounds):
            baseline.append(run_flow(base_tree, label="base", participants=args.participants, items=args.items))
            new.append(run_flow(ROOT, label="new", participants=args.participants, items=args.items))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"participant path: {args.participants} participants x {args.items} trials, {args.rounds} rounds each")
    report(baseline, new, ref=args.baseline)
    return 0
