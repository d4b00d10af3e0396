"""`make bench`: every benchmark, each against its baseline run side by side.

    python -m bench            # engine, scoring, then the analyses' coverage study
    python -m bench engine ... # one of them, with its own options (--help)
"""

import sys

from bench import analyses, engine, loadtest, participant, precision, scoring

# `make bench` runs these; `python -m bench precision` (slow, a study), `participant` (needs git
# and, to mean anything, PostgreSQL) and `loadtest` (`make loadtest`: a server and a crowd) only when named.
BENCHMARKS = {"engine": engine.main, "scoring": scoring.main, "analyses": analyses.main}
STUDIES = {"precision": precision.main, "participant": participant.main, "loadtest": loadtest.main}


def main(argv: list[str]) -> int:
    if argv and argv[0] in {**BENCHMARKS, **STUDIES}:
        return {**BENCHMARKS, **STUDIES}[argv[0]](argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join({**BENCHMARKS, **STUDIES})}", file=sys.stderr)
        return 2
    status = 0
    for name, run in BENCHMARKS.items():
        print(f"\n=== {name} ===", flush=True)
        status |= run([])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
