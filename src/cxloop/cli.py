"""The ``cxloop`` command: demo, serve, worker, import, createadmin, migrate, workspace, feedback.

Every command sets up the database when it is new or behind (migrations), checks its input before
writing, writes all or nothing, and reports a problem as one line on stderr with exit status 1
(failed) or 2 (bad input); never a traceback unless CXLOOP_DEBUG=1.
"""

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
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cxloop.engine_cli import engine_app, owner_argv

app = typer.Typer(
    help="cxloop: self-hosted customer experience platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
workspace_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
feedback_app = typer.Typer(help="Surveys: send invitations, import reviews.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
app.add_typer(engine_app, name="engine")
rollups_app = typer.Typer(
    help="Rollups the pages read: daily survey scores, journey progress, segment counts.",
    no_args_is_help=True,
)
app.add_typer(rollups_app, name="rollups")
text_app = typer.Typer(
    help="Text analytics: sentiment of comments and reviews.", no_args_is_help=True
)
app.add_typer(text_app, name="text")
console = Console(soft_wrap=True)  # paths and keys stay on one line, whatever the width
err_console = Console(stderr=True)
DEMO_SLUG = "demo"
DEMO_ADMIN_FILE = "demo-admin.txt"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _django(*, database: bool = True, announce: bool = False) -> None:
    """Set Django up and, with ``database``, bring the database up to date first."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise _fail(f"configuration: {exc}") from None
    if announce:
        console.print(f"Database: [bold]{_database_label()}[/bold]", highlight=False)
    if database:
        _migrate_if_needed(quiet=not announce)


def _database_label() -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(settings["NAME"])
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{connection.vendor}://{host}{port}/{settings['NAME']}"


def _migrate_if_needed(*, quiet: bool) -> None:
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise _fail(f"cannot open the database {_database_label()}: {exc}") from None
    if not plan:
        return
    new = not connection.introspection.table_names()
    if new or not quiet:
        what = "Creating" if new else "Upgrading"
        console.print(f"{what} the database {_database_label()} ...", highlight=False)
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except DatabaseError as exc:
        raise _fail(f"could not set up the database {_database_label()}: {exc}") from None


def _workspace(slug: str | None):
    from cxloop.core import selectors as core_selectors
    from cxloop.core.models import Workspace

    if slug:
        workspace = core_selectors.workspace_get(slug=slug)
        if workspace is None:
            raise _fail(
                f"--workspace: no workspace with slug {slug!r} (see `cxloop workspace list`)", 2
            )
        return workspace
    workspaces = list(Workspace.objects.order_by("pk")[:2])
    if not workspaces:
        raise _fail("there is no workspace yet: run `cxloop workspace create NAME` first", 2)
    if len(workspaces) > 1:
        raise _fail(
            "--workspace: there are several workspaces, name one (`cxloop workspace list`)", 2
        )
    return workspaces[0]


@app.command()
def migrate() -> None:
    """Create or upgrade the database tables."""
    _django(database=False, announce=True)
    _migrate_if_needed(quiet=True)
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
    """Create a superuser (or set a new password for an existing one) and print the login."""
    _django()
    password = _create_admin(username=username, password=password, email=email, workspace=workspace)
    console.print(
        f"Admin login: [bold]{escape(username)}[/bold] / [bold]{escape(password)}[/bold]",
        highlight=False,
    )


def _create_admin(*, username: str, password: str | None, email: str, workspace: str | None) -> str:
    """Validate, then create or reset the superuser and their memberships in one transaction."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from cxloop.core import services as core_services
    from cxloop.core.forms import AdminCreateForm, form_errors
    from cxloop.core.models import Workspace

    password = password or secrets.token_urlsafe(12)
    form = AdminCreateForm({"username": username, "password": password, "email": email})
    if not form.is_valid():
        raise _fail(form_errors(form), 2)
    targets = [_workspace(workspace)] if workspace else list(Workspace.objects.all())
    existed = get_user_model().objects.filter(username=username).exists()
    with transaction.atomic():
        user = core_services.user_create_or_reset(
            username=username, password=password, email=email, superuser=True
        )
        for target in targets:
            core_services.membership_set(user=user, workspace=target, role="admin")
    if existed:
        console.print(f"User {username!r} existed: their password is now the one below.")
    return password


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
    from django.db import IntegrityError, transaction

    from cxloop.core import services as core_services
    from cxloop.core.forms import WorkspaceCreateForm, form_errors

    form = WorkspaceCreateForm(
        {
            "name": name,
            "slug": slug or "",
            "phone_region": phone_region,
            "write_key": write_key or "",
        }
    )
    if not form.is_valid():
        raise _fail(form_errors(form), 2)
    data = form.cleaned_data
    try:
        with transaction.atomic():
            workspace = core_services.workspace_create(
                name=data["name"], slug=data["slug"], phone_region=data["phone_region"]
            )
            key = workspace.write_keys.get()
            if data["write_key"]:
                key.key = data["write_key"]
                key.save(update_fields=["key"])
    except IntegrityError:  # created by someone else between the check and the write
        raise _fail("that slug or write key was just taken: run the command again", 1) from None
    console.print(
        f"Workspace [bold]{workspace.slug}[/bold], write key [bold]{key.key}[/bold]",
        highlight=False,
    )


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces with their write keys."""
    _django()
    from cxloop.core.models import Workspace

    workspaces = list(Workspace.objects.order_by("slug"))
    if not workspaces:
        console.print("No workspaces yet: create one with `cxloop workspace create NAME`.")
        return
    table = Table("slug", "name", "write keys")
    for ws in workspaces:
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


@rollups_app.command("rebuild")
def rollups_rebuild(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug (default: all).")] = None,
) -> None:
    """Recount the daily survey score rollup from the responses, recompute every journey map
    from all its events and count every saved segment (the repair path; all are kept up to
    date as data arrives)."""
    _django()
    from cxloop.feedback import services as feedback_services
    from cxloop.journeys import services as journey_services
    from cxloop.segments import services as segment_services

    target = _workspace(workspace) if workspace else None
    rows = feedback_services.score_days_rebuild(workspace=target)
    console.print(f"Survey scores: {rows:,} daily rows recounted.")
    maps = journey_services.journeys_rebuild(workspace=target)
    console.print(f"Journeys: {maps:,} maps recomputed from all events.")
    counted = segment_services.segment_counts_refresh(workspace=target)
    console.print(f"Segments: {counted:,} counted.")


@feedback_app.command("import-reviews")
def feedback_import_reviews(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    source: Annotated[str, typer.Option(help="Review site for rows without a source.")] = "",
) -> None:
    """Import reviews and customer text (text and/or rating 1–5, source, date, email or user_id,
    id) from a CSV file; text-only rows (tweets, transcripts, tickets) are feedback too."""
    _django()
    from cxloop.feedback.importing import ImportFileError, reviews_import

    try:
        report = reviews_import(
            workspace=_workspace(workspace), text=file.read_bytes(), default_site=source
        )
    except ImportFileError as exc:
        raise _fail(str(exc), 2) from None
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


@text_app.command("analyse")
def text_analyse(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    missing_only: Annotated[
        bool, typer.Option("--missing-only", help="Skip texts this version analysed already.")
    ] = False,
) -> None:
    """Analyse the sentiment of every comment and review in a workspace (history, in bulk)."""
    _django()
    from cxloop.text import services

    target = _workspace(workspace)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed:,}/{task.total:,} texts",
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("Analysing texts", total=0)
        stored = services.texts_analyse_workspace(
            workspace=target,
            missing_only=missing_only,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(f"{stored:,} texts analysed in workspace {escape(target.slug)}")


@text_app.command("embed")
def text_embed(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
) -> None:
    """Embed a workspace's analysed texts for semantic search and themes (history, in bulk;
    texts embedded already are skipped). Needs the optional extra: pip install "cxloop[embeddings]"."""
    _django()
    from cxloop.text import selectors, services

    target = _workspace(workspace)
    console.print(f"engine: {escape(selectors.embedding_engine())}")
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed:,}/{task.total:,} texts",
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("Embedding texts", total=0)
        done = services.texts_embed_workspace(
            workspace=target,
            on_progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if not selectors.embedding_model_installed():
        console.print(
            "the embeddings extra is not installed: semantic search uses the LSA fallback, "
            "which needs no stored vectors"
        )
        return
    console.print(f"{done:,} texts embedded in workspace {escape(target.slug)}")


@text_app.command("themes")
def text_themes(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    count: Annotated[
        int | None, typer.Option(min=2, max=30, help="How many themes (default: from the data).")
    ] = None,
) -> None:
    """Find themes in a workspace's analysed texts (curated themes are kept)."""
    _django()
    from cxloop.text import selectors, services

    target = _workspace(workspace)
    with console.status("finding themes..."):
        found = services.themes_discover(workspace=target, k=count)
    if not found:
        console.print("not enough text for themes yet (at least 10 analysed texts sharing words)")
        return
    table = Table("theme", "texts", "negative")
    for row in selectors.themes_list(workspace=target):
        table.add_row(escape(row.theme.name), f"{row.texts:,}", f"{row.negative:,}")
    console.print(table)


@app.command()
def predict(
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Score as of this date (YYYY-MM-DD); default: the latest event."),
    ] = None,
    purchase_event: Annotated[
        str | None, typer.Option(help="Event name that counts as a purchase (saved).")
    ] = None,
    churn_days: Annotated[
        int | None, typer.Option(help="Days without a purchase that count as churn (saved).")
    ] = None,
    cancel_event: Annotated[
        str | None, typer.Option(help="Event that means the customer left; '' for none (saved).")
    ] = None,
) -> None:
    """Fit CLV and churn models on a workspace's purchases and score every buyer now."""
    from datetime import UTC, datetime, time

    moment = None
    if as_of:
        try:
            day = datetime.strptime(as_of, "%Y-%m-%d").replace(tzinfo=UTC).date()
        except ValueError:
            raise _fail(f"--as-of: {as_of!r} is not a date like 2024-06-30", 2) from None
        moment = datetime.combine(day, time.max, tzinfo=UTC)
    _django()
    from cxloop.predict import services

    target = _workspace(workspace)
    if purchase_event is not None or churn_days is not None or cancel_event is not None:
        try:
            services.prediction_settings_update(
                workspace=target,
                purchase_event=purchase_event,
                churn_days=churn_days,
                cancel_event=cancel_event,
            )
        except ValueError as exc:
            raise _fail(f"--{str(exc).replace('_', '-')}", 2) from None
    with console.status("fitting and scoring..."):
        run = services.predictions_run(workspace=target, as_of=moment)
    console.print(
        f"as of {run.as_of:%Y-%m-%d}: {run.customers:,} buyers, {run.repeat_buyers:,} repeat "
        f"buyers, {run.purchases:,} purchases; stored run {run.pk} in {run.seconds:.1f}s"
    )
    for name, values in run.parameters.items():
        if isinstance(values, dict):
            shown = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float))
            console.print(f"  {name}: {shown}")
    churn = run.validation.get("churn") or {}
    if churn.get("roc_auc") is not None:
        console.print(
            f"  churn model: ROC AUC {churn['roc_auc']:.3f}, PR AUC {churn['pr_auc']:.3f}"
        )
    for warning in run.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


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
        raise _fail(f"KIND: expected 'customers' or 'events', not {kind!r}", 2)
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
            raise _fail(str(exc), 2) from None
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


def _worker_argv(*, burst: bool = False) -> list[str] | None:
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


def _start_recurring() -> None:
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
        raise _fail(f"cannot queue the recurring tasks: {exc.__class__.__name__}: {exc}") from None


def _worker_env() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "cxloop.settings"}


@app.command()
def worker(
    burst: Annotated[
        bool, typer.Option(help="Run what is due now, then exit (for cron or a check).")
    ] = False,
) -> None:
    """Run the background task worker for the configured backend (CXLOOP_TASKS).

    `cxloop serve` starts one itself; run this for separate worker processes
    (`cxloop serve --no-worker` on the web hosts), as many as needed.
    """
    _django(announce=True)
    argv = _worker_argv(burst=burst)
    if argv is None:
        console.print("CXLOOP_TASKS=immediate runs tasks inside the web process: no worker needed.")
        return
    _start_recurring()
    console.print(f"Task worker ({argv[3]}) started; Ctrl+C stops it.", highlight=False)
    process = subprocess.Popen(argv, env=_worker_env())
    # `kill`/`docker stop` reach only this process: pass them on, and wait for the worker to finish
    # its current task (Ctrl+C reaches both: the worker stops after its task, and so do we)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        code = process.wait()
    except KeyboardInterrupt:
        code = process.wait()
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    threads: Annotated[int, typer.Option(help="Request threads.")] = 8,
    worker: Annotated[bool, typer.Option(help="Also run the background task worker.")] = True,
) -> None:
    """Serve the web app and the tracking API (waitress), with a background task worker."""
    _django(announce=True)
    _serve(host=host, port=port, threads=threads, with_worker=worker)


def _proxy_options() -> dict[str, object]:
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


def _serve(*, host: str, port: int, threads: int, with_worker: bool) -> None:
    from waitress import serve as waitress_serve

    from cxloop.wsgi import application

    worker_process: subprocess.Popen | None = None
    engine_process: _EngineKeeper | None = None
    argv = _worker_argv() if with_worker else None
    if argv is not None:
        _start_recurring()
        worker_process = subprocess.Popen(argv, env=_worker_env())
    engine_argv = owner_argv() if with_worker else None
    if engine_argv is not None:
        engine_process = _EngineKeeper(engine_argv, _start_engine(engine_argv))
    console.print(f"cxloop is serving on [bold]http://{host}:{port}[/bold]  (Ctrl+C stops it)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the cleanup below on `kill`
    try:
        waitress_serve(
            application, host=host, port=port, threads=threads, ident="cxloop", **_proxy_options()
        )
    finally:
        for process in (worker_process, engine_process):
            if process:
                process.terminate()
                process.wait(timeout=30)


class _EngineKeeper:
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
            self.process = subprocess.Popen(self.argv, env=_worker_env())

    def terminate(self) -> None:
        self.stopping.set()
        self.process.terminate()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)


def _start_engine(argv: list[str]) -> subprocess.Popen:
    """Start the analytics engine's store owner and wait until it answers."""
    from cxloop.analytics import owner

    console.print("Starting the analytics engine (embedded ClickHouse) ...")
    process = subprocess.Popen(argv, env=_worker_env())
    if not owner.wait_for_owner(60):
        process.terminate()
        raise _fail("the analytics engine did not start; see its messages above")
    return process


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="How many demo customers to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 7,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    run_server: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Build the demo workspace (an omnichannel retailer) and serve the app."""
    if customers < 1:
        raise _fail("--customers: give at least 1", 2)
    console.print("Starting the cxloop demo ...")
    _django(announce=True)
    from cxloop.core import selectors as core_selectors
    from cxloop.demo.generator import build_demo

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
    _demo_admin()
    if run_server:
        _serve(host=host, port=port, threads=8, with_worker=True)


def _demo_admin() -> None:
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
    password = _create_admin(username="admin", password=None, email="", workspace=DEMO_SLUG)
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    console.print(
        f"Admin login: [bold]admin[/bold] / [bold]{escape(password)}[/bold]  (kept in {saved})",
        highlight=False,
    )


def main() -> None:
    """Entry point: a usage mistake or an error that escapes a command is one line on stderr."""
    try:  # newer typer bundles its own copy of click
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # older typer: the same classes, from click itself
        from click.exceptions import (  # type: ignore[assignment]  # the alternative import
            NoArgsIsHelpError,
            UsageError,
        )

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # typer printed the help already
        sys.exit(exc.exit_code)
    except UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        err_console.print(
            f"[red]error:[/red] {escape(exc.format_message() + where)}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("Aborted.")
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("CXLOOP_DEBUG") == "1":
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        err_console.print(
            f"[red]error:[/red] {exc.__class__.__name__}: {escape(message)} "
            "(CXLOOP_DEBUG=1 shows the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code or 0)
