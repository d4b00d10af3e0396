"""`make bench`: every benchmark, each against its baseline run side by side.

    python -m bench            # engine, then scoring
    python -m bench engine ... # one of them, with its own options (--help)
"""

import sys

from bench import engine, scoring

BENCHMARKS = {"engine": engine.main, "scoring": scoring.main}


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        return BENCHMARKS[argv[0]](argv[1:])
    if argv:
        print(f"unknown benchmark {argv[0]!r}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    status = 0
    for name, run in BENCHMARKS.items():
        print(f"\n=== {name} ===", flush=True)
        status |= run([])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
