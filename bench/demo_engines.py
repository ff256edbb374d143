"""Shared by the journey benchmarks (``bench/journeys.py``, ``bench/journeymap.py``): the demo
built in a scratch ``CXLOOP_HOME`` (SQLite, the SQL engine answering), its events copied into an
embedded ClickHouse store in this process, and a median timer."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class DemoEngines:
    home: Path
    workspace: Any
    maps: list  # the demo's journey maps, by id
    chdb: Any  # ClickHouseEngine over a chdb store of the demo's events
    sql_engine: Any  # the SQL reference engine


def timed(repeat: int, function: Callable[[], object]) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def demo_with_engines(*, customers: int, name: str) -> Iterator[DemoEngines]:
    """Build the demo at ``customers`` (printing ``name`` benchmark's header line), yield it with
    both engines; the scratch home is deleted afterwards."""
    home = Path(tempfile.mkdtemp(prefix=f"cxloop-bench-{name.split()[0]}-"))
    os.environ.update(
        CXLOOP_HOME=str(home), CXLOOP_ANALYTICS="sql", DJANGO_SETTINGS_MODULE="cxloop.settings"
    )
    os.environ.pop("DATABASE_URL", None)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
        from cxloop.analytics import selectors as analytics_selectors
        from cxloop.analytics import services as analytics_services
        from cxloop.analytics.engine import ClickHouseEngine
        from cxloop.analytics.transports import ChdbTransport
        from cxloop.demo.generator import build_demo
        from cxloop.events import selectors as event_selectors
        from cxloop.journeys.models import JourneyMap

        started = time.perf_counter()
        build_demo(slug="demo", customers=customers)
        maps = list(JourneyMap.objects.order_by("pk"))
        workspace = maps[0].workspace
        events = event_selectors.event_count(workspace=workspace)
        print(
            f"{name} benchmark: demo of {customers:,} customers, {events:,} events, "
            f"{len(maps)} maps (built in {time.perf_counter() - started:.0f} s) · SQLite · "
            f"{os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f}"
        )
        chdb = ClickHouseEngine(ChdbTransport(home / "engine"), label="embedded (bench)")
        chdb.setup()
        analytics_services.engine_rebuild(engine=chdb)
        yield DemoEngines(home, workspace, maps, chdb, analytics_selectors.current_engine())
    finally:
        shutil.rmtree(home, ignore_errors=True)
