"""`cxloop text labels` and `cxloop text tune`: teach cxloop a workspace's text from the shell
(the same services as the Teach page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cxloop.cli.common import console, django_setup, fail, workspace_from


def labels(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file.")],
    workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None,
    text_column: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    label_column: Annotated[
        str, typer.Option(help="Column with negative / neutral / positive (or -1 / 0 / 1).")
    ] = "label",
) -> None:
    """Store labelled texts (a UTF-8 CSV) that a workspace's own sentiment model learns from;
    a label also overrides the model for every text with the same words."""
    django_setup()
    from cxloop.text import services

    target = workspace_from(workspace)
    if not file.is_file():  # a pipe would block the read, a device never end
        raise fail(f"{file}: not a regular file", 2)
    if file.stat().st_size > services.UPLOAD_MAX_BYTES:
        raise fail(f"{file}: {file.stat().st_size:,} bytes, at most 10 MB per file", 2)
    try:
        report = services.sentiment_labels_upload(
            workspace=target,
            data=file.read_bytes(),
            text_column=text_column,
            label_column=label_column,
        )
    except ValueError as exc:
        raise fail(f"{file}: {exc}", 2) from None
    console.print(
        f"[green]{report.saved:,} labelled texts saved[/green], {report.unchanged:,} unchanged, "
        f"{report.relabelled:,} analysed texts relabelled, "
        f"[red]{len(report.errors):,} line{'s' if len(report.errors) != 1 else ''} refused[/red]"
    )
    for error in report.errors[:20]:
        console.print(f"  {escape(error)}")
    if report.errors and not report.saved and not report.unchanged:
        raise typer.Exit(1)


def tune(workspace: Annotated[str | None, typer.Option(help="Workspace slug.")] = None) -> None:
    """Train the workspace's own sentiment model on its labelled texts now; it is used only when
    the 95 % interval of its cross-validated macro-F1 gain over the shipped model's lies above 0
    (then the texts are rescored)."""
    django_setup()
    from cxloop.text import services

    target = workspace_from(workspace)
    try:
        queued = services.sentiment_tuning_request(workspace=target)
    except ValueError as refused:  # too few labels, or of a class
        raise fail(str(refused)) from refused
    with console.status("training (cross-validated against the shipped model)..."):
        row = services.sentiment_tuning_run(tuning_id=queued.pk)
    if row is None or row.state == "queued":
        raise fail("a worker took this training first: see the Teach page for its result")
    if row.state == "running":
        raise fail("a training is running already: see the Teach page for its result")
    if row.state == "failed":
        raise fail(row.error)
    verdict = "in use now" if row.adopted else "not better: the shipped model stays in use"
    console.print(
        f"{row.labels:,} labelled texts; cross-validated macro-F1 {row.tuned_f1:.3f} against "
        f"the shipped model's {row.shipped_f1:.3f} (gain {row.gain_low:+.3f} to "
        f"{row.gain_high:+.3f}, 95 %): {verdict}"
    )
