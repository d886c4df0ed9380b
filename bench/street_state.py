"""Size of the per-street detection state after replaying recorded events.

Run:  .venv/bin/python bench/street_state.py EVENTS.jsonl [--lines N]

Replays the first N raw records (default: all) through the backtest pipeline — the same core the
workers checkpoint to their changelog table — then pickles every street's state and prints the
distribution of sizes against the 64 KB budget (a street's checkpoint is one table row).
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
import time

from warning.backtest.runner import iter_lines
from warning.config import load_settings
from warning.core.pipeline import Pipeline
from warning.streams.app import build_enricher

BUDGET = 64 * 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("--lines", type=int, default=None)
    ap.add_argument("--config", default=None)
    a = ap.parse_args()
    s = load_settings(a.config, env={})
    pipe = Pipeline.from_settings(s, enricher=build_enricher(s))
    t0 = time.perf_counter()
    pipe.feed_all(itertools.islice(iter_lines(a.events), a.lines))
    n = pipe.stats.records
    sizes = sorted(len(pickle.dumps(st, protocol=5)) for e in pipe.engines for st in e.streets.values())
    if not sizes:
        sys.exit("no street state (no accepted records?)")
    kb = lambda b: b / 1024  # noqa: E731
    print(f"records={n:,} streets={len(sizes)} seconds={time.perf_counter() - t0:.0f}")
    print(f"state per street: median {kb(sizes[len(sizes) // 2]):.1f} KB  p99 {kb(sizes[int(len(sizes) * 0.99)]):.1f} KB  "
          f"max {kb(sizes[-1]):.1f} KB  (budget 64 KB; max/budget {sizes[-1] / BUDGET:.2f})")


if __name__ == "__main__":
    main()
