"""The ``cxloop`` command: demo, serve, worker, import, createadmin, migrate, workspace, feedback.

Every command sets up the database when it is new or behind (migrations), checks its input before
writing, writes all or nothing, and reports a problem as one line on stderr with exit status 1
(failed) or 2 (bad input); never a traceback unless CXLOOP_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from cxloop.cli import serving, teach
from cxloop.cli.common import (
    console,
    counting_bar,
    create_admin,
    django_setup,
    err_console,
    fail,
    migrate_if_needed,
    workspace_from,
)
from cxloop.engine_cli import engine_app

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


@app.command()
def migrate() -> None:
    """Create or upgrade the database tables."""
    django_setup(database=False, announce=True)
    migrate_if_needed(quiet=True)
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
    django_setup()
    password = create_admin(username=username, password=password, email=email, workspace=workspace)
    console.print(
        f"Admin login: [bold]{escape(username)}[/bold] / [bold]{escape(password)}[/bold]",
        highlight=False,
    )


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
    django_setup()
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
        raise fail(form_errors(form), 2)
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
        raise fail("that slug or write key was just taken: run the command again", 1) from None
    console.print(
        f"Workspace [bold]{workspace.slug}[/bold], write key [bold]{key.key}[/bold]",
        highlight=False,
    )


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces with their write keys."""
    django_setup()
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
    django_setup()
    from cxloop.feedback import services

    target = workspace_from(workspace) if workspace else None
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
    django_setup()
    from cxloop.feedback import services as feedback_services
    from cxloop.journeys import services as journey_services
    from cxloop.segments import services as segment_services

    target = workspace_from(workspace) if workspace else None
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
    django_setup()
    from cxloop.feedback.importing import ImportFileError, reviews_import

    try:
        report = reviews_import(
            workspace=workspace_from(workspace), text=file.read_bytes(), default_site=source
        )
    except ImportFileError as exc:
        raise fail(str(exc), 2) from None
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
    django_setup()
    from cxloop.text import services

    target = workspace_from(workspace)
    with counting_bar("texts") as bar:
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
    django_setup()
    from cxloop.text import selectors, services

    target = workspace_from(workspace)
    console.print(f"engine: {escape(selectors.embedding_engine())}")
    with counting_bar("texts") as bar:
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
    django_setup()
    from cxloop.text import selectors, services

    target = workspace_from(workspace)
    with console.status("finding themes..."):
        found = services.themes_discover(workspace=target, k=count)
    if not found:
        console.print("not enough text for themes yet (at least 10 analysed texts sharing words)")
        return
    if found.covered:
        console.print(
            f"left out {len(found.covered)} found again that curated themes already hold: "
            + escape(", ".join(found.covered))
        )
    table = Table("theme", "texts", "negative")
    for row in selectors.themes_list(workspace=target):
        table.add_row(escape(row.theme.name), f"{row.texts:,}", f"{row.negative:,}")
    console.print(table)


text_app.command("labels")(teach.labels)
text_app.command("tune")(teach.tune)


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
            raise fail(f"--as-of: {as_of!r} is not a date like 2024-06-30", 2) from None
        moment = datetime.combine(day, time.max, tzinfo=UTC)
    django_setup()
    from cxloop.predict import services

    target = workspace_from(workspace)
    if purchase_event is not None or churn_days is not None or cancel_event is not None:
        try:
            services.prediction_settings_update(
                workspace=target,
                purchase_event=purchase_event,
                churn_days=churn_days,
                cancel_event=cancel_event,
            )
        except ValueError as exc:
            raise fail(f"--{str(exc).replace('_', '-')}", 2) from None
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
        raise fail(f"KIND: expected 'customers' or 'events', not {kind!r}", 2)
    django_setup()
    from cxloop.events.importing import ImportFileError, import_file

    target = workspace_from(workspace)
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
            raise fail(str(exc), 2) from None
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


app.command()(serving.worker)
app.command()(serving.serve)
app.command()(serving.demo)


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
