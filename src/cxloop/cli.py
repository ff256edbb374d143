"""The ``cxloop`` command: demo, serve, import, createadmin, migrate, workspace."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

app = typer.Typer(help="cxloop: self-hosted customer experience platform.", no_args_is_help=True)
workspace_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
feedback_app = typer.Typer(help="Surveys: send invitations, import reviews.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
console = Console()
DEMO_SLUG = "demo"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django

    django.setup()


def _workspace(slug: str | None):
    from cxloop.core import selectors as core_selectors
    from cxloop.core.models import Workspace

    if slug:
        workspace = core_selectors.workspace_get(slug=slug)
        if workspace is None:
            raise typer.BadParameter(f"no workspace with slug {slug!r}", param_hint="--workspace")
        return workspace
    workspaces = list(Workspace.objects.order_by("pk")[:2])
    if len(workspaces) != 1:
        raise typer.BadParameter(
            "name the workspace (there are several, or none: run `cxloop workspace create`)",
            param_hint="--workspace",
        )
    return workspaces[0]


@app.command()
def migrate() -> None:
    """Create or upgrade the database tables."""
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    console.print("[green]Database is up to date.[/green]")


@app.command()
def createadmin(
    username: Annotated[str, typer.Option(help="Login name.")] = "admin",
    password: Annotated[str | None, typer.Option(help="Password; generated when omitted.")] = None,
    email: Annotated[str, typer.Option()] = "",
    workspace: Annotated[
        str | None, typer.Option(help="Workspace slug to make them admin of.")
    ] = None,
) -> None:
    """Create a superuser (or reset their password) and print the login."""
    _django()
    from cxloop.core import services as core_services
    from cxloop.core.models import Workspace

    password = password or secrets.token_urlsafe(9)
    user = core_services.user_create_or_reset(
        username=username, password=password, email=email, superuser=True
    )
    targets = [_workspace(workspace)] if workspace else list(Workspace.objects.all())
    for target in targets:
        core_services.membership_set(user=user, workspace=target, role="admin")
    console.print(f"Admin login: [bold]{username}[/bold] / [bold]{password}[/bold]")


@workspace_app.command("create")
def workspace_create(
    name: str,
    slug: Annotated[str | None, typer.Option()] = None,
    phone_region: Annotated[str, typer.Option(help="Country for local phone numbers.")] = "US",
    write_key: Annotated[
        str | None, typer.Option(help="Use this write key instead of a new one.")
    ] = None,
) -> None:
    """Create a workspace and print its write key."""
    _django()
    from cxloop.core import services as core_services

    workspace = core_services.workspace_create(name=name, slug=slug, phone_region=phone_region)
    key = workspace.write_keys.get()
    if write_key:
        key.key = write_key
        key.save(update_fields=["key"])
    console.print(f"Workspace [bold]{workspace.slug}[/bold], write key [bold]{key.key}[/bold]")


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces with their write keys."""
    _django()
    from cxloop.core.models import Workspace

    table = Table("slug", "name", "write keys")
    for ws in Workspace.objects.order_by("slug"):
        keys = ", ".join(k.key for k in ws.write_keys.filter(revoked_at__isnull=True))
        table.add_row(ws.slug, ws.name, keys)
    console.print(table)


@feedback_app.command("send")
def feedback_send(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: all).")] = None,
) -> None:
    """Schedule survey invitations from new events and email the due ones now.

    `cxloop serve` does this every minute in its background worker; this runs one round.
    """
    _django()
    from cxloop.feedback import services

    target = _workspace(workspace) if workspace else None
    scheduled = services.triggers_scan(workspace=target)
    report = services.invitations_send_due(workspace=target)
    console.print(
        f"{scheduled:,} invitations scheduled; [green]{report.sent:,} sent[/green], "
        f"{report.skipped:,} skipped, [red]{report.failed:,} failed[/red]"
    )
    if report.failed:
        raise typer.Exit(1)


@feedback_app.command("import-reviews")
def feedback_import_reviews(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    source: Annotated[str, typer.Option(help="Review site for rows without a source.")] = "",
) -> None:
    """Import reviews (rating 1–5, text, source, date, email, id) from a CSV file."""
    _django()
    from cxloop.feedback.importing import ImportFileError, reviews_import

    try:
        report = reviews_import(
            workspace=_workspace(workspace), text=file.read_bytes(), default_site=source
        )
    except ImportFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(
        f"{report.rows:,} rows: [green]{report.imported:,} imported[/green], "
        f"{report.duplicates:,} already there, [red]{len(report.errors):,} rejected[/red]"
    )
    if report.errors:
        table = Table("where", "reason", title="Rejected rows (first 20)")
        for error in report.errors[:20]:
            table.add_row(error.field, error.message)
        console.print(table)
    if report.errors and not report.imported and not report.duplicates:
        raise typer.Exit(1)


@app.command(name="import")
def import_(
    kind: Annotated[str, typer.Argument(help="customers or events")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Write every rejected row to this CSV.")
    ] = None,
) -> None:
    """Import customers or events from a CSV or JSONL file, with a progress bar."""
    if kind not in ("customers", "events"):
        raise typer.BadParameter("expected 'customers' or 'events'", param_hint="KIND")
    _django()
    from cxloop.events.importing import ImportFileError, import_file

    target = _workspace(workspace)
    size = file.stat().st_size
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
        task = bar.add_task(f"Importing {kind}", total=size)
        try:
            result = import_file(
                workspace=target,
                path=file,
                kind=kind,
                on_progress=lambda done: bar.update(task, completed=min(done, size)),
            )
        except ImportFileError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        bar.update(task, completed=size)
    console.print(
        f"{result.rows:,} rows: [green]{result.accepted:,} stored[/green], "
        f"{result.duplicates:,} already there, [red]{len(result.rejected):,} rejected[/red]"
    )
    for warning in result.warnings[:20]:  # stored, with odd values (NaN, ...) changed
        console.print(f"  [yellow]line {warning.position}[/yellow]: {warning.reason}")
    _print_rejections(result.rejected, report or file.with_suffix(file.suffix + ".errors.csv"))
    if result.rejected and not result.accepted and not result.duplicates:
        raise typer.Exit(1)


def _print_rejections(rejected, report_path: Path) -> None:
    if not rejected:
        return
    table = Table("line", "reason", title="Rejected rows (first 20)")
    for item in rejected[:20]:
        table.add_row(str(item.position), item.reason)
    console.print(table)
    from cxloop.core import csvsafe

    with report_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csvsafe.writer(handle)
        writer.writerow(["line", "reason"])
        writer.writerows((r.position, r.reason) for r in rejected)
    console.print(f"All {len(rejected):,} rejected rows with reasons: {report_path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    threads: Annotated[int, typer.Option(help="Request threads.")] = 8,
    worker: Annotated[bool, typer.Option(help="Also run the background task worker.")] = True,
) -> None:
    """Serve the web app and the tracking API (waitress), with a background task worker."""
    _django()
    from django.core.management import call_command
    from waitress import serve as waitress_serve

    from cxloop.wsgi import application

    call_command("migrate", interactive=False, verbosity=0)
    worker_process = None
    if worker:
        from cxloop.feedback.tasks import ensure_feedback_cycle
        from cxloop.journeys.tasks import ensure_journeys_cycle

        ensure_feedback_cycle()  # survey triggers and invitations, every minute in the worker
        ensure_journeys_cycle()  # journey stages and map metrics, every ten minutes
        worker_process = subprocess.Popen(
            [sys.executable, "-m", "django", "db_worker", "--interval", "1"],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "cxloop.settings"},
        )
    console.print(f"cxloop is serving on [bold]http://{host}:{port}[/bold]  (Ctrl+C stops it)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the cleanup below on `kill`
    try:
        waitress_serve(application, host=host, port=port, threads=threads, ident="cxloop")
    finally:
        if worker_process:
            worker_process.terminate()
            worker_process.wait(timeout=10)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="How many demo customers to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    run_server: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Build the demo workspace (an omnichannel retailer) and serve the app."""
    _django()
    from django.core.management import call_command

    from cxloop.core import selectors as core_selectors
    from cxloop.demo.generator import build_demo

    call_command("migrate", interactive=False, verbosity=0)
    if core_selectors.workspace_get(slug=DEMO_SLUG) is None:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            "{task.completed:,}/{task.total:,} customers",
            TimeRemainingColumn(),
            console=console,
        ) as bar:
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
    createadmin(username="admin", password=None, email="", workspace=DEMO_SLUG)
    if run_server:
        serve(host=host, port=port, threads=8, worker=True)


def main() -> None:
    app()
