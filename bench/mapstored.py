"""The journey map's default view read from the journey job's stored ranges, against an existing
home whose engine owner runs (``cxloop engine serve``; e.g. the 10M-event home of ``pages.py``):

    CXLOOP_HOME=... CXLOOP_ANALYTICS=embedded .venv/bin/python bench/mapstored.py

Walks the first map's default range and the one before it once live (timed: today's cost),
stores them as the journey job does (``journey_windows_store``, timed; the only write), checks
the stored metrics equal the live walk, then asks the page ``--repeat`` times (after one untimed
request) through Django's test client, without and with the comparison: p50/p95 in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per page")
    parser.add_argument(
        "--pages-only", action="store_true", help="time the pages only (ranges stored before)"
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()
    from django.conf import settings

    from cxloop.journeys.models import JourneyMap

    settings.ALLOWED_HOSTS = ["*"]
    journey = JourneyMap.objects.order_by("pk")[0]
    if not args.pages_only:
        walk_and_store(journey)
    time_pages(journey, args.repeat)


def walk_and_store(journey) -> None:
    from cxloop.journeys import mapperiod, services

    windows = mapperiod.default_windows(workspace=journey.workspace)
    started = time.perf_counter()
    live = [
        mapperiod.journey_period_metrics(
            journey=journey, since=since, until=until, use_stored=mapperiod.NEVER
        ).metrics
        for since, until in windows
    ]
    print(f"live walk of both ranges: {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    stored = services.journey_windows_store(journey=journey)
    print(f"journey_windows_store: {stored} ranges in {time.perf_counter() - started:.2f} s")
    rows = journey.mapwindow_set.order_by("-since")
    if [r.metrics for r in rows] != live:
        raise SystemExit("stored metrics differ from the live walk")
    print("stored metrics equal the live walk")


def time_pages(journey, repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    for label, query in (("journey map (stored)", ""), ("journey map, compared", "?compare=1")):
        url = f"/journeys/{journey.pk}/{query}"
        first = client.get(url)
        if first.status_code != 200 or b"map-stored-note" in first.content:
            raise SystemExit(f"{url}: {first.status_code}, or the stored ranges are not current")
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(url)
            times.append(time.perf_counter() - started)
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"{label:28} p50 {statistics.median(times):.3f}  p95 {p95:.3f}")


if __name__ == "__main__":
    main()
