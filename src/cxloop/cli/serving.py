"""The ``cxloop`` commands that run processes: ``worker``, ``serve`` (waitress, with a worker and
the analytics engine's owner) and ``demo`` (builds the demo workspace, then serves it).
``cxloop.cli`` registers them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cxloop.cli.common import console, counting_bar, create_admin, django_setup, err_console, fail
from cxloop.engine_cli import owner_argv

DEMO_SLUG = "demo"
DEMO_ADMIN_FILE = "demo-admin.txt"


def worker_argv(*, burst: bool = False) -> list[str] | None:
    """The worker process that fits the configured task backend (None: tasks run inline)."""
    from cxloop.core.recurring import backend_kind

    kind = backend_kind()
    base = [sys.executable, "-m", "django"]
    if kind == "db":
        return [*base, "db_worker", "--interval", "1", *(["--batch"] if burst else [])]
    if kind == "rq":
        return [
            *base,
            "rqworker",
            "--job-class",
            "django_tasks_rq.Job",
            "--with-scheduler",
            *(["--burst"] if burst else []),
            "default",
        ]
    return None


def start_recurring() -> None:
    """Start each recurring chain once (a chain already queued or running is left alone)."""
    from cxloop.feedback.tasks import ensure_feedback_cycle
    from cxloop.journeys.tasks import ensure_journeys_cycle
    from cxloop.predict.tasks import ensure_predictions_cycle
    from cxloop.segments.tasks import ensure_segment_counts_cycle
    from cxloop.workflows.tasks import ensure_workflows_cycle

    try:
        ensure_feedback_cycle()  # survey triggers and invitations, every minute
        ensure_journeys_cycle()  # journey stages and map metrics, every ten minutes
        ensure_predictions_cycle()  # CLV and churn scores, once a day
        ensure_segment_counts_cycle()  # the segments list's counts, every five minutes
        ensure_workflows_cycle()  # overdue steps and event rules, every minute
    except Exception as exc:  # Redis down, say: one line, not a traceback
        raise fail(f"cannot queue the recurring tasks: {exc.__class__.__name__}: {exc}") from None


def worker_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "cxloop.settings"}


def worker(
    burst: Annotated[
        bool, typer.Option(help="Run what is due now, then exit (for cron or a check).")
    ] = False,
) -> None:
    """Run the background task worker for the configured backend (CXLOOP_TASKS).

    `cxloop serve` starts one itself; run this for separate worker processes
    (`cxloop serve --no-worker` on the web hosts), as many as needed.
    """
    django_setup(announce=True)
    argv = worker_argv(burst=burst)
    if argv is None:
        console.print("CXLOOP_TASKS=immediate runs tasks inside the web process: no worker needed.")
        return
    start_recurring()
    console.print(f"Task worker ({argv[3]}) started; Ctrl+C stops it.", highlight=False)
    process = subprocess.Popen(argv, env=worker_env())
    # `kill`/`docker stop` reach only this process: pass them on, and wait for the worker to finish
    # its current task (Ctrl+C reaches both: the worker stops after its task, and so do we)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        code = process.wait()
    except KeyboardInterrupt:
        code = process.wait()
    raise typer.Exit(code)


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    threads: Annotated[int, typer.Option(help="Request threads.")] = 8,
    worker: Annotated[bool, typer.Option(help="Also run the background task worker.")] = True,
) -> None:
    """Serve the web app and the tracking API (waitress), with a background task worker."""
    django_setup(announce=True)
    serve_app(host=host, port=port, threads=threads, with_worker=worker)


def proxy_options() -> dict[str, object]:
    """Behind a TLS proxy (CXLOOP_BEHIND_PROXY=1) waitress must keep its X-Forwarded-Proto/-For:
    by default it deletes them, and HTTPS requests would be redirected to HTTPS forever. It then
    sets the scheme and the client address from them (the last hop, the proxy's own entry)."""
    from django.conf import settings

    if not getattr(settings, "BEHIND_PROXY", False):
        return {}
    return {
        "trusted_proxy": "*",  # the proxy is the only way in (the setting's documented premise)
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
    }


def serve_app(*, host: str, port: int, threads: int, with_worker: bool) -> None:
    from waitress import serve as waitress_serve

    from cxloop.wsgi import application

    worker_process: subprocess.Popen | None = None
    engine_process: EngineKeeper | None = None
    argv = worker_argv() if with_worker else None
    if argv is not None:
        start_recurring()
        worker_process = subprocess.Popen(argv, env=worker_env())
    engine_argv = owner_argv() if with_worker else None
    if engine_argv is not None:
        engine_process = EngineKeeper(engine_argv, start_engine(engine_argv))
    console.print(f"cxloop is serving on [bold]http://{host}:{port}[/bold]  (Ctrl+C stops it)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the cleanup below on `kill`
    try:
        waitress_serve(
            application, host=host, port=port, threads=threads, ident="cxloop", **proxy_options()
        )
    finally:
        for process in (worker_process, engine_process):
            if process:
                process.terminate()
                process.wait(timeout=30)


class EngineKeeper:
    """Starts the engine's owner again when it stops on its own (pages say "analytics
    temporarily unavailable" meanwhile), at most once every 10 seconds."""

    def __init__(self, argv: list[str], process: subprocess.Popen) -> None:
        import threading

        self.argv, self.process, self.stopping = argv, process, threading.Event()
        threading.Thread(target=self._watch, name="engine-keeper", daemon=True).start()

    def _watch(self) -> None:
        while not self.stopping.is_set():
            code = self.process.wait()
            if self.stopping.wait(10):
                return
            err_console.print(f"The analytics engine stopped (exit code {code}); restarting it.")
            self.process = subprocess.Popen(self.argv, env=worker_env())

    def terminate(self) -> None:
        self.stopping.set()
        self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)


def start_engine(argv: list[str]) -> subprocess.Popen:
    """Start the analytics engine's store owner and wait until it answers."""
    from cxloop.analytics import owner

    console.print("Starting the analytics engine (embedded ClickHouse) ...")
    process = subprocess.Popen(argv, env=worker_env())
    if not owner.wait_for_owner(60):
        process.terminate()
        raise fail("the analytics engine did not start; see its messages above")
    return process


def demo(
    customers: Annotated[int, typer.Option(help="How many demo customers to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    run_server: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Build the demo workspace (an omnichannel retailer) and serve the app."""
    if customers < 1:
        raise fail("--customers: give at least 1", 2)
    console.print("Starting the cxloop demo ...")
    django_setup(announce=True)
    from cxloop.core import selectors as core_selectors
    from cxloop.demo.generator import build_demo

    if core_selectors.workspace_get(slug=DEMO_SLUG) is None:
        with counting_bar("customers") as bar:
            task = bar.add_task("Building demo data", total=customers)
            stats = build_demo(
                slug=DEMO_SLUG,
                customers=customers,
                seed=seed,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        console.print(
            f"Demo workspace ready: {stats.customers:,} profiles, {stats.events:,} events, "
            f"{stats.merges:,} merges."
        )
    else:
        console.print("Demo workspace already exists; keeping it.")
    demo_admin()
    if run_server:
        serve_app(host=host, port=port, threads=8, with_worker=True)


def demo_admin() -> None:
    """Create the demo's admin once; on later runs keep (and show again) the same password."""
    from django.conf import settings
    from django.contrib.auth import get_user_model

    saved = Path(settings.CXLOOP_HOME) / DEMO_ADMIN_FILE
    exists = get_user_model().objects.filter(username="admin").exists()
    if exists and saved.is_file():
        password = saved.read_text().strip()
        console.print(
            f"Admin login (unchanged): [bold]admin[/bold] / [bold]{escape(password)}[/bold]",
            highlight=False,
        )
        return
    if exists:
        console.print(
            "Admin login: [bold]admin[/bold], password unchanged "
            "(set a new one with `cxloop createadmin --username admin`)."
        )
        return
    password = create_admin(username="admin", password=None, email="", workspace=DEMO_SLUG)
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    console.print(
        f"Admin login: [bold]admin[/bold] / [bold]{escape(password)}[/bold]  (kept in {saved})",
        highlight=False,
    )
