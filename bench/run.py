"""Runs the benchmarks: every module in bench/ with a ``main() -> dict[str, float]``.

``python bench/run.py`` runs them all; ``python bench/run.py throughput`` only the ones
named. Each prints its own report; the figures of all of them are printed together at
the end. Exits non-zero if any benchmark failed.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

Benchmark = Callable[[], dict[str, float]]


def discover(names: list[str]) -> dict[str, Benchmark]:
    """The benchmark modules of bench/ (or only ``names``), by name."""
    sys.path.insert(0, str(BENCH_DIR))
    found: dict[str, Benchmark] = {}
    for path in sorted(BENCH_DIR.glob("*.py")):
        name = path.stem
        # The apps that benchmarks serve (``*_app.py``) are not benchmarks themselves.
        if name == "run" or name.startswith("_") or name.endswith("_app"):
            continue
        if names and name not in names:
            continue
        main = getattr(importlib.import_module(name), "main", None)
        if callable(main):
            found[name] = main
    unknown = sorted(set(names) - set(found))
    if unknown:
        raise SystemExit(f"bench/run.py: no benchmark named {', '.join(unknown)}")
    return found


def main(argv: list[str]) -> int:
    figures: dict[str, dict[str, float]] = {}
    failed: list[str] = []
    for name, benchmark in discover(argv).items():
        print(f"== {name}", flush=True)
        try:
            figures[name] = benchmark()
        except Exception:
            traceback.print_exc()
            failed.append(name)
    print("== figures")
    for name, results in figures.items():
        for key, value in results.items():
            print(f"{name}.{key}: {value:.2f}")
    if failed:
        print(f"bench/run.py: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
