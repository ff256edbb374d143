"""What every ``cxloop`` command shares: its consoles, the one-line failure, Django set up with the
database brought up to date, the workspace a command acts on, and the superuser it may create."""

from __future__ import annotations

import os
import secrets

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TimeRemainingColumn

console = Console(soft_wrap=True)  # paths and keys stay on one line, whatever the width
err_console = Console(stderr=True)


def counting_bar(unit: str) -> Progress:
    """A progress bar that counts ``unit`` (texts, customers) done of the total, with the time
    left."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        f"{{task.completed:,}}/{{task.total:,}} {unit}",
        TimeRemainingColumn(),
        console=console,
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def django_setup(*, database: bool = True, announce: bool = False) -> None:
    """Set Django up and, with ``database``, bring the database up to date first."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxloop.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise fail(f"configuration: {exc}") from None
    if announce:
        console.print(f"Database: [bold]{database_label()}[/bold]", highlight=False)
    if database:
        migrate_if_needed(quiet=not announce)


def database_label() -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(settings["NAME"])
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{connection.vendor}://{host}{port}/{settings['NAME']}"


def migrate_if_needed(*, quiet: bool) -> None:
    from django.core.management import call_command
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        raise fail(f"cannot open the database {database_label()}: {exc}") from None
    if not plan:
        return
    new = not connection.introspection.table_names()
    if new or not quiet:
        what = "Creating" if new else "Upgrading"
        console.print(f"{what} the database {database_label()} ...", highlight=False)
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except DatabaseError as exc:
        raise fail(f"could not set up the database {database_label()}: {exc}") from None


def workspace_from(slug: str | None):
    from cxloop.core import selectors as core_selectors
    from cxloop.core.models import Workspace

    if slug:
        workspace = core_selectors.workspace_get(slug=slug)
        if workspace is None:
            raise fail(
                f"--workspace: no workspace with slug {slug!r} (see `cxloop workspace list`)", 2
            )
        return workspace
    workspaces = list(Workspace.objects.order_by("pk")[:2])
    if not workspaces:
        raise fail("there is no workspace yet: run `cxloop workspace create NAME` first", 2)
    if len(workspaces) > 1:
        raise fail(
            "--workspace: there are several workspaces, name one (`cxloop workspace list`)", 2
        )
    return workspaces[0]


def create_admin(*, username: str, password: str | None, email: str, workspace: str | None) -> str:
    """Validate, then create or reset the superuser and their memberships in one transaction."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from cxloop.core import services as core_services
    from cxloop.core.forms import AdminCreateForm, form_errors
    from cxloop.core.models import Workspace

    password = password or secrets.token_urlsafe(12)
    form = AdminCreateForm({"username": username, "password": password, "email": email})
    if not form.is_valid():
        raise fail(form_errors(form), 2)
    targets = [workspace_from(workspace)] if workspace else list(Workspace.objects.all())
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
