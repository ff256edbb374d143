"""REST routes that teach cxloop a workspace's text (mounted under /api/ by cxloop.api.rest):
a person's sentiment label for a text, an upload of labelled texts, and the training of the
workspace's own sentiment model (the same services and selectors as the Teach page)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from cxloop.api.access import request_workspace
from cxloop.api.errors import BODY_ERRORS, ERRORS
from cxloop.api.params import id_param
from cxloop.core.permissions import Capability
from cxloop.text import selectors as text_selectors
from cxloop.text import services as text_services

router = Router(tags=["text"])


class LabelIn(Schema):
    label: Literal["negative", "neutral", "positive"] | None  # null: drop the person's label


class LabelOut(Schema):
    id: int
    label: str  # the text's label now
    score: float
    labelled_by_person: bool
    changed: int  # analyses whose label changed (every text with the same words)


class UploadOut(Schema):
    saved: int
    unchanged: int
    relabelled: int
    errors: list[str]


class TrainingOut(Schema):
    id: int
    state: str  # queued, running, done or failed
    error: str
    labels: int
    counts: dict[str, int]
    tuned_f1: float | None  # cross-validated macro-F1 of the workspace's model
    shipped_f1: float | None  # the shipped model's on the same labelled texts
    gain_low: float | None  # 95 % paired bootstrap interval of the gain
    gain_high: float | None
    adopted: bool
    requested_at: datetime
    finished_at: datetime | None


class TeachingOut(Schema):
    labels: int
    counts: dict[str, int]
    enough: bool  # enough labels of each class to train
    min_labels: int
    min_per_class: int
    latest: TrainingOut | None
    in_use: TrainingOut | None  # null: the shipped model scores the workspace's texts
    texts: int
    rescored: int  # analysed texts scored by the model in use now


def _training(row) -> dict | None:
    if row is None:
        return None
    return {name: getattr(row, name) for name in TrainingOut.model_fields}


@router.put(
    "/text/{analysis_id}/label",
    response={200: LabelOut, **BODY_ERRORS},
    summary="Label a text's sentiment",
)
def text_label(
    request: HttpRequest, body: LabelIn, analysis_id: int = id_param(), workspace: str = ""
):
    """A person's reading of the text's sentiment: it overrides the model for every text with
    the same words in the workspace and is learned from when the workspace's model is trained.
    ``null`` drops it (the model scores those texts again)."""
    target = request_workspace(request, workspace or None, need=Capability.EDIT_SEGMENTS)
    analysis = text_selectors.analysis_get(workspace=target, analysis_id=analysis_id)
    if analysis is None:
        raise HttpError(404, f"no text {analysis_id} in this workspace")
    if body.label is None:
        changed = text_services.sentiment_label_clear(analysis=analysis)
    else:
        changed = text_services.sentiment_label_set(
            analysis=analysis, label=body.label, by=request.user
        )
    analysis.refresh_from_db()
    return {
        "id": analysis.pk,
        "label": analysis.label,
        "score": analysis.score,
        "labelled_by_person": text_selectors.sentiment_label_of(analysis=analysis) is not None,
        "changed": changed,
    }


@router.post(
    "/text/labels/import",
    response={200: UploadOut, **BODY_ERRORS},
    summary="Upload labelled texts (CSV)",
)
def text_labels_import(
    request: HttpRequest,
    file: File[UploadedFile],
    text_column: Form[str] = "text",
    label_column: Form[str] = "label",
    workspace: str | None = None,
):
    """A UTF-8 CSV with a header, a text column and a label column (negative, neutral,
    positive, or neg, neu, pos, or -1, 0, 1), at most 10 MB. Bad lines are reported by number and the good ones
    kept; a text is stored once per workspace with its latest label."""
    target = request_workspace(request, workspace, need=Capability.EDIT_SEGMENTS)
    if file.size and file.size > text_services.UPLOAD_MAX_BYTES:
        return Status(422, {"detail": f"file: {file.size:,} bytes, at most 10 MB", "errors": []})
    try:
        report = text_services.sentiment_labels_upload(
            workspace=target,
            data=file.read(),
            by=request.user,
            text_column=text_column,
            label_column=label_column,
        )
    except ValueError as refused:
        return Status(422, {"detail": str(refused), "errors": []})
    return report


@router.get("/text/teaching", response={200: TeachingOut, **ERRORS}, summary="Teaching status")
def text_teaching(request: HttpRequest, workspace: str = ""):
    """Labelled texts per class, the latest training of the workspace's own sentiment model
    and the one in use (cross-validated macro-F1 against the shipped model's)."""
    target = request_workspace(request, workspace or None, need=Capability.READ_FEEDBACK)
    found = text_selectors.sentiment_teaching(workspace=target)
    return {
        "labels": found.labels,
        "counts": found.counts,
        "enough": found.enough,
        "min_labels": found.min_labels,
        "min_per_class": found.min_per_class,
        "latest": _training(found.latest),
        "in_use": _training(found.in_use),
        "texts": found.texts,
        "rescored": found.current,
    }


@router.post(
    "/text/teaching/train",
    response={202: TrainingOut, **ERRORS},
    summary="Train the workspace's sentiment model",
)
def text_teaching_train(request: HttpRequest, workspace: str = ""):
    """Queue a training (or answer the one queued or running already); poll
    ``GET /api/text/teaching`` for its result."""
    target = request_workspace(request, workspace or None, need=Capability.EDIT_SEGMENTS)
    try:
        queued = text_services.sentiment_tuning_request(workspace=target)
    except ValueError as refused:  # too few labels, or of a class
        raise HttpError(422, str(refused)) from refused
    return Status(202, _training(queued))
