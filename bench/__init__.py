"""Benchmarks run by ``make bench`` (engine: ``python -m bench.engine``)."""
