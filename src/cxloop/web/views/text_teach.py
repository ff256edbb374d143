"""The Teach page: a workspace's labelled texts, uploading more, and training its own sentiment
model (adopted only when it reads the labelled texts better than the shipped one)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cxloop.core.permissions import Capability
from cxloop.text import selectors as text_selectors
from cxloop.text import services as text_services
from cxloop.web.forms import error_lines
from cxloop.web.forms.text import SentimentTeachForm
from cxloop.web.workspace import active_workspace, can, capability_required

SHOWN_ERRORS = 50


@capability_required(Capability.READ_FEEDBACK, write=Capability.EDIT_SEGMENTS)
def text_teach(request: HttpRequest) -> HttpResponse:
    workspace = active_workspace(request)
    errors: list[str] = []
    if request.method == "POST":
        form = SentimentTeachForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            if data["op"] == "train":
                try:
                    text_services.sentiment_tuning_request(workspace=workspace)
                except ValueError as refused:  # too few labels, or of a class
                    errors.append(str(refused))
                else:
                    messages.success(request, "Training started; this page shows the result.")
                    return redirect("text-teach")
            else:
                errors = _upload(request, workspace, data)
                if not errors:
                    return redirect("text-teach")
        else:
            errors = error_lines(form)
    teaching = text_selectors.sentiment_teaching(workspace=workspace)
    context = {
        "teaching": teaching,
        # only people who may label see the suggestions: nobody else pays for the queries
        "suggested": (
            text_selectors.texts_to_label(workspace=workspace)
            if can(request, Capability.EDIT_SEGMENTS)
            else []
        ),
        "errors": errors,
        "sentiment_model": text_selectors.sentiment_model(version=teaching.version),
    }
    return render(request, "text/teach.html", context, status=422 if errors else 200)


def _upload(request: HttpRequest, workspace, data: dict) -> list[str]:
    """Store an uploaded file's labels; the lines to show (none: all went well, said in a
    message)."""
    try:
        report = text_services.sentiment_labels_upload(
            workspace=workspace,
            data=data["file"].read(),
            by=request.user,
            text_column=data["text_column"],
            label_column=data["label_column"],
        )
    except ValueError as refused:
        return [str(refused)]
    done = (
        f"{report.saved:,} labelled texts saved, {report.unchanged:,} unchanged, "
        f"{report.relabelled:,} analysed texts relabelled"
    )
    if not report.errors:
        messages.success(request, done + ".")
        return []
    bad = len(report.errors)
    errors = [f"{done}; {bad:,} line{'s' if bad != 1 else ''} refused:"]
    errors += report.errors[:SHOWN_ERRORS]
    if bad > SHOWN_ERRORS:
        errors.append(f"… and {bad - SHOWN_ERRORS:,} more")
    return errors
