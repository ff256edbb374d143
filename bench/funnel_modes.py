"""Funnel modes, exclusions and correlation in cxloop's embedded engine, as ratios to the default
ordered funnel of the same run (the question the engine benchmark already times).

    /work/main/.venv/bin/python bench/funnel_modes.py --events 1000000

Uses ``bench/engines.py``'s synthetic events (same seed, same data) in a scratch chdb store, then
times in one process, one untimed run then ``--repeat`` timed runs (median and max): the funnel
page's summary in each mode, the ordered funnel with an exclusion, and the correlation counts.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=25_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return timings(args.child, args.repeat)
    directory = Path(tempfile.mkdtemp(prefix="cxloop-modes-"))
    started = time.perf_counter()
    engines.cxloop_store = lambda directory: None  # filled by the child, with Django set up
    engines.generate(directory, args.events, args.customers, 9, engines.TIE_SHARE, 1)
    print(f"{args.events:,} events, {args.customers:,} customers generated in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    # a child process: chdb opens one store per process, and generate opened another
    command = [sys.executable, __file__, "--child", str(directory), "--repeat", str(args.repeat)]
    return subprocess.run(command, check=False).returncode


def timings(directory: Path, repeat: int) -> int:
    engines._cxloop_imports()
    import django

    django.setup()
    engines._cxloop_fill(str(directory))
    from cxloop.analytics.engine import ClickHouseEngine
    from cxloop.analytics.transports import ChdbTransport
    from cxloop.journeys.definitions import ExclusionSpec, RuleSpec

    engine = ClickHouseEngine(ChdbTransport(directory / "cxloop"))
    steps = [RuleSpec(event=s) for s in engines.STEPS]
    window = timedelta(seconds=engines.WINDOW)
    excluded = [ExclusionSpec(RuleSpec(event=engines.STEPS[0]), after=2)]
    asks = {
        "ordered (baseline)": lambda: (
            engine.funnel_summary(workspace_id=1, steps=steps, window=window).counts
        ),
        "strict": lambda: (
            engine.funnel_summary(workspace_id=1, steps=steps, window=window, mode="strict").counts
        ),
        "any order": lambda: (
            engine.funnel_summary(workspace_id=1, steps=steps, window=window, mode="any").counts
        ),
        "ordered + exclusion": lambda: (
            engine.funnel_summary(
                workspace_id=1, steps=steps, window=window, exclusions=excluded
            ).counts
        ),
        "correlation": lambda: (
            engine.funnel_correlation(workspace_id=1, steps=steps, window=window).entered
        ),
    }
    base = None
    for name, ask in asks.items():
        answer = ask()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            ask()
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        base = base or median
        print(f"{name:22} median {median * 1000:7.0f} ms  max {max(times) * 1000:7.0f} ms  "
              f"×{median / base:5.2f}  answer {answer}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
