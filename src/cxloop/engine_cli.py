"""``cxloop engine …``: run the analytics engine's store owner, rebuild the store, show its
status (docs/adr/0001-analytics-engine.md)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console

console = Console()
engine_app = typer.Typer(
    help="The analytics engine: run its store owner, rebuild it, show its lag.",
    no_args_is_help=True,
)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()


def owner_argv() -> list[str] | None:
    """The store owner process `cxloop serve` starts (None: the engine needs none)."""
    from django.conf import settings

    if settings.CXLOOP_ANALYTICS != "embedded":
        return None
    return [sys.executable, "-m", "cxloop", "engine", "serve"]


@engine_app.command("serve")
def engine_serve(
    interval: Annotated[float, typer.Option(help="Seconds between outbox drains.")] = 1.0,
) -> None:
    """Own the embedded store: copy new events into it and answer the web processes' queries.

    `cxloop serve` starts this itself; run it alone only with `cxloop serve --no-worker`.
    """
    _setup()
    from django.conf import settings

    from cxloop.analytics import owner

    if settings.CXLOOP_ANALYTICS != "embedded":
        console.print(f"CXLOOP_ANALYTICS={settings.CXLOOP_ANALYTICS}: no embedded store to own.")
        raise typer.Exit(0)
    if owner.wait_for_owner(0.2):
        console.print("An analytics engine already runs for this CXLOOP_HOME.")
        raise typer.Exit(1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    console.print(f"Analytics engine: store {owner.store_path()}, socket {owner.socket_path()}")
    owner.serve(interval=interval, stop=stop)


@engine_app.command("rebuild")
def engine_rebuild() -> None:
    """Drop the engine's store and copy every event into it again from the database."""
    _setup()
    from django.conf import settings

    from cxloop.analytics import owner, selectors, services

    setting = settings.CXLOOP_ANALYTICS
    if setting == "sql":
        console.print("CXLOOP_ANALYTICS=sql: the database is the engine; nothing to rebuild.")
        return
    if setting == "embedded" and owner.wait_for_owner(0.2):
        copied = owner.OwnerClient().call(("rebuild",))
    else:
        engine = selectors.current_engine() if setting != "embedded" else owner.embedded_engine()
        copied = services.engine_rebuild(
            engine=engine,  # type: ignore[arg-type]
            progress=lambda n: console.print(f"  {n:,} events copied", highlight=False),
        )
    console.print(f"Engine rebuilt: {copied:,} events.")


@engine_app.command("status")
def engine_status() -> None:
    """Which engine answers, whether it answers, and how far it lags behind the database."""
    _setup()
    from cxloop.analytics import selectors

    status = selectors.engine_status()
    console.print(f"Engine: {status.label} ({'answering' if status.reachable else 'DOWN'})")
    if status.problem:
        console.print(f"  {status.problem}")
    lag = "none" if status.lag_seconds is None else f"{status.lag_seconds:.1f} s"
    console.print(f"  outbox: {status.backlog:,} entries waiting; oldest: {lag}")
