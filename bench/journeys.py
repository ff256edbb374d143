"""Journey job benchmark: a cycle of the journey job at the demo's size, before and after maps
kept progress from a saved position in the event stream.

Run from the repository root::

    .venv/bin/python bench/journeys.py                   # the demo (5,000 customers)
    .venv/bin/python bench/journeys.py --customers 20000

Builds the demo in a scratch ``CXLOOP_HOME`` (SQLite), copies its events into an embedded
ClickHouse store in this process (chdb), then times, per cycle over every map (median of
``--repeat``):

* **before**: what the job did for every map each cycle: the engine's walk of all events
  (``journey_walk`` on chdb, and on the SQL reference engine), the feedback rule, and every
  customer's stage row rewritten;
* **after, full**: ``journey_recompute`` (a changed map, or ``cxloop rollups rebuild``);
* **after, nothing new**: ``journey_advance`` with no new events;
* **after, a batch**: ``journey_advance`` after each of ``--batches`` new events of the maps'
  names from random customers (ingestion not timed), then asserts the maps equal a full walk.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_engines import demo_with_engines, timed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument(
        "--batches", default="50,500", help="new events per batch, comma-separated sizes"
    )
    parser.add_argument("--profile", action="store_true", help="profile a run after a batch")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with demo_with_engines(customers=args.customers, name="journey job") as demo:
        from django.utils import timezone

        from cxloop.analytics import selectors as analytics_selectors
        from cxloop.analytics.walk import as_datetime
        from cxloop.events import selectors as event_selectors
        from cxloop.events.services import events_ingest
        from cxloop.journeys import _progress, services
        from cxloop.journeys.models import CustomerStage, JourneyMap

        workspace, maps, chdb, sql_engine = demo.workspace, demo.maps, demo.chdb, demo.sql_engine

        def previous_cycle(engine) -> None:
            """The job before this change: every map walked from all events, every stage row
            rewritten (journeys.services.journey_recompute as it was)."""
            analytics_selectors.current_engine = lambda: engine  # type: ignore[assignment]
            for journey in maps:
                shape = _progress._Map(journey)
                result = analytics_selectors.journey_walk(
                    workspace=workspace, stages=len(shape.stages), touchpoints=shape.touchpoints
                )
                if shape.conditions:
                    _progress._apply_feedback_rule(
                        journey, result.current, shape.conditions, shape.rules
                    )
                CustomerStage.objects.filter(journey=journey).delete()
                CustomerStage.objects.bulk_create(
                    (
                        CustomerStage(
                            workspace_id=journey.workspace_id,
                            journey=journey,
                            stage=shape.stages[position],
                            customer_id=customer,
                            reached_at=as_datetime(reached),
                        )
                        for customer, (position, reached) in result.current.items()
                    ),
                    batch_size=2000,
                )
                journey.metrics, journey.computed_at = result.metrics, timezone.now()
                journey.save(update_fields=["metrics", "computed_at"])
            analytics_selectors.current_engine = lambda: sql_engine  # type: ignore[assignment]

        def full() -> None:
            for journey in maps:
                services.journey_recompute(journey=journey)

        def advance() -> None:
            for journey in maps:
                services.journey_advance(journey=journey)

        rng = random.Random(3)
        names = sorted({n for j in maps for n in _progress._Map(j).names})
        users = list(
            workspace.identity_set.filter(kind="user_id").values_list("value", flat=True)[:5000]
        )
        latest = event_selectors.event_latest_at(workspace=workspace) or datetime.now(UTC)
        serial = [0]

        def batch(size: int) -> None:
            messages = []
            for _ in range(size):
                serial[0] += 1
                at = latest - timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
                messages.append(
                    {
                        "type": "track", "userId": rng.choice(users), "event": rng.choice(names),
                        "properties": {"channel": rng.choice(("web", "app", "store"))},
                        "timestamp": at.isoformat(), "messageId": f"bench-{serial[0]}",
                    }
                )  # fmt: skip
            events_ingest(workspace=workspace, messages=messages)

        rows = []
        rows.append(("before: engine walk (chdb) + all stages", timed(args.repeat, lambda: previous_cycle(chdb))))  # fmt: skip
        rows.append(("before: engine walk (SQL ref.) + all stages", timed(args.repeat, lambda: previous_cycle(sql_engine))))  # fmt: skip
        rows.append(("after: full walk (changed map, rebuild)", timed(args.repeat, full)))
        rows.append(("after: cycle, nothing new", timed(args.repeat, advance)))
        for size in (int(n) for n in args.batches.split(",")):
            times = []
            batch(size)
            advance()  # steady state: each run also re-reads the batch before it (late commits)
            for _ in range(args.repeat):
                batch(size)  # ingestion is not timed: only the job's run that follows it
                started = time.perf_counter()
                advance()
                times.append(time.perf_counter() - started)
            rows.append((f"after: cycle after {size} new events", statistics.median(times)))
        if args.profile:
            import cProfile
            import pstats

            batch(int(args.batches.split(",")[-1]))
            profiler = cProfile.Profile()
            profiler.runcall(advance)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
        kept = {j.pk: JourneyMap.objects.get(pk=j.pk).metrics for j in maps}
        stages = set(CustomerStage.objects.values_list("journey_id", "customer_id", "stage_id"))
        full()
        same = kept == {j.pk: JourneyMap.objects.get(pk=j.pk).metrics for j in maps} and (
            stages
            == set(CustomerStage.objects.values_list("journey_id", "customer_id", "stage_id"))
        )
        base = rows[0][1]
        print(f"{'one cycle over every map':<46}{'median s':>10}{'vs before (chdb)':>18}")
        for label, seconds in rows:
            print(f"{label:<46}{seconds:>10.3f}{seconds / base:>17.2f}×")
        print(
            "incremental maps equal a full walk: "
            + ("yes" if same else "NO (metrics or stages differ)")
        )
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
