"""Segment counts benchmark: each saved segment's live count, its own page, and the segments list
counted live against the list reading the kept counts (``SegmentCount``), p50/p95 with the
engine's share (the time spent waiting for the engine's answers).

    .venv/bin/python bench/segments.py --home /path/to/a/copy/of/a/10M/home

The home must be a writable copy (the bench stores the kept counts and runs the migrations
first); its engine owner must run (``cxloop engine serve``), or ``engine.sock`` in the copy
may be a link to the socket of the home it was copied from, whose owner then answers (the
copy's secret_key must be that home's). Requests go through Django's test client, as
``bench/pages.py``; sessions are signed cookies, so a request writes nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a writable CXLOOP_HOME")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each")
    return parser.parse_args(argv)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {**os.environ, "CXLOOP_HOME": str(args.home), "CXLOOP_ANALYTICS": "embedded"}
    env.pop("DATABASE_URL", None)
    if subprocess.run([sys.executable, "-m", "cxloop", "migrate"], env=env, check=False).returncode:
        return 1
    os.environ.update(CXLOOP_HOME=str(args.home), CXLOOP_ANALYTICS="embedded")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import update_last_login
    from django.contrib.auth.signals import user_logged_in
    from django.test import Client

    from cxloop.analytics import owner as engine_owner
    from cxloop.analytics import selectors as analytics_selectors
    from cxloop.core.models import Workspace
    from cxloop.segments import selectors, services
    from cxloop.segments.models import Segment, SegmentCount

    settings.ALLOWED_HOSTS = ["*"]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
    engine_owner.wait_for_owner(60)
    engine = analytics_selectors.current_engine()
    waited = [0.0]
    ask = engine.transport.query

    def timed_query(sql: str):
        begun = time.perf_counter()
        try:
            return ask(sql)
        finally:
            waited[0] += time.perf_counter() - begun

    engine.transport.query = timed_query
    workspace = Workspace.objects.get(slug="demo")
    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    results: list[tuple[str, list[float], list[float]]] = []

    def measure(label: str, run: Callable[[], object]) -> None:
        run()  # untimed
        times, engine_times = [], []
        for _ in range(args.repeat):
            waited[0] = 0.0
            begun = time.perf_counter()
            run()
            times.append(time.perf_counter() - begun)
            engine_times.append(waited[0])
        results.append((label, times, engine_times))
        print(
            f"  {label:44} p50 {statistics.median(times):.3f} s  p95 {p95(times):.3f} s  "
            f"engine p50 {statistics.median(engine_times):.3f} s",
            flush=True,
        )

    def page(url: str) -> Callable[[], object]:
        def get() -> object:
            reply = client.get(url)
            if reply.status_code != 200:
                raise SystemExit(f"{url}: HTTP {reply.status_code}")
            return reply

        return get

    segments = list(Segment.objects.filter(workspace=workspace).order_by("pk"))
    as_of = selectors.segment_as_of(workspace=workspace)
    for segment in segments:
        measure(
            f"count {segment.name[:38]}",
            lambda s=segment: selectors.segment_count(
                workspace=workspace, definition=s.definition, now=as_of, segment_id=s.pk
            ),
        )
    for segment in segments[2:3]:  # store-only shoppers: three event conditions
        measure(f"page of {segment.name[:36]}", page(f"/segments/{segment.pk}/"))
    SegmentCount.objects.filter(segment__workspace=workspace).delete()
    measure("segments list, every count live", page("/segments/"))
    begun = time.perf_counter()
    counted = services.segment_counts_refresh(workspace=workspace)
    print(f"  kept counts refreshed: {counted} segments in {time.perf_counter() - begun:.2f} s")
    measure("segments list, kept counts", page("/segments/"))
    print(f"\n{args.repeat} runs of each after one untimed; seconds")
    print(f"{'':44} {'p50':>6} {'p95':>6} {'engine p50':>10} {'p95':>6}")
    for label, times, engine_times in results:
        print(
            f"{label:44} {statistics.median(times):6.3f} {p95(times):6.3f} "
            f"{statistics.median(engine_times):10.3f} {p95(engine_times):6.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
