"""Writes that teach cxloop a workspace's own text: people's sentiment labels (a correction on
the text page, or an upload of labelled texts) and the training of the workspace's own model
(``tuning``), adopted only when it reads the labelled texts better than the shipped head."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from cxloop.core import pii
from cxloop.core.db import lock_workspace_for_labels
from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.text import embeddings, scoring, sentiment, sentiment_head, tuning
from cxloop.text._teaching_reads import BUSY, is_stale, latest_done, usable_model
from cxloop.text.models import SentimentLabel, SentimentTuning, TextAnalysis

log = logging.getLogger(__name__)
LABEL_WORDS = {
    "negative": "negative",
    "neutral": "neutral",
    "positive": "positive",
    "neg": "negative",
    "neu": "neutral",
    "pos": "positive",
    "-1": "negative",
    "0": "neutral",
    "1": "positive",
    "+1": "positive",
}
UPLOAD_MAX_ROWS = 50_000
RESCORE_PASSES = 3
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # the page and the API refuse bigger files before reading


def teaching_for(*, workspace_id: int, digests: Iterable[str] = ()) -> scoring.Teaching:
    """What the workspace taught, for scoring texts with these ``digests``: the model of its
    latest finished training when it was adopted and still fits (``usable_model``), and its
    people's labels of those texts."""
    wanted = list(set(digests))
    people = (
        dict(
            SentimentLabel.objects.filter(workspace_id=workspace_id, digest__in=wanted).values_list(
                "digest", "label"
            )
        )
        if wanted
        else {}
    )
    done = latest_done(workspace_id=workspace_id)
    fitted = usable_model(done)
    if done is None or fitted is None:
        return scoring.Teaching(people=people)
    return scoring.Teaching(fitted, scoring.tuned_version(done.pk), people)


def people_reapply(*, workspace_id: int, digests: Iterable[str]) -> int:
    """Give the workspace's analyses of these texts people's labels of them, as they are now
    (called inside the transaction that stores a scored batch, so a label given or cleared while
    the batch was being scored counts); returns how many changed."""
    labels = dict(
        SentimentLabel.objects.filter(
            workspace_id=workspace_id, digest__in=list(set(digests))
        ).values_list("digest", "label")
    )
    return _apply_people(workspace_id, labels) if labels else 0


def _apply_people(workspace_id: int, labels: dict[str, str]) -> int:
    """Give the workspace's analyses of these texts (by digest) the person's label; returns
    how many changed."""
    changed = []
    rows = TextAnalysis.objects.filter(workspace_id=workspace_id, digest__in=list(labels))
    for analysis in rows.only("pk", "digest", "label", "score", "sentences"):
        label = labels[analysis.digest]
        if analysis.label == label:
            continue
        analysis.score = scoring.fit_to_label(analysis.score, label)
        analysis.label = label
        if len(analysis.sentences) == 1:
            analysis.sentences = [
                {**analysis.sentences[0], "score": analysis.score, "label": label}
            ]
        changed.append(analysis)
    TextAnalysis.objects.bulk_update(changed, ["label", "score", "sentences"], batch_size=500)
    return len(changed)


def sentiment_label_set(*, analysis: TextAnalysis, label: str, by=None) -> int:
    """A person's reading of ``analysis``' sentiment, for it and every text in the workspace with
    the same words; returns how many analyses changed label."""
    if label not in tuning.CLASSES:
        raise ValueError(f"label: {label!r} is not one of {', '.join(tuning.CLASSES)}")
    digest = analysis.digest or embeddings.digest(analysis.text)
    with transaction.atomic():
        lock_workspace_for_labels(analysis.workspace_id)
        SentimentLabel.objects.update_or_create(
            workspace_id=analysis.workspace_id,
            digest=digest,
            defaults={"text": analysis.text, "label": label, "source": "page", "labelled_by": by},
        )
        return _apply_people(analysis.workspace_id, {digest: label})


def sentiment_label_clear(*, analysis: TextAnalysis) -> int:
    """Drop a person's label of this text's words; its analyses are scored by the model again.
    Returns how many of them changed label (0 when there was no label)."""
    from cxloop.text.services import text_analyse_responses

    digest = analysis.digest or embeddings.digest(analysis.text)
    copies = TextAnalysis.objects.filter(workspace_id=analysis.workspace_id, digest=digest)
    with transaction.atomic():
        # a batch stored after this sees no label; one stored before is among the copies
        lock_workspace_for_labels(analysis.workspace_id)
        deleted, _ = SentimentLabel.objects.filter(
            workspace_id=analysis.workspace_id, digest=digest
        ).delete()
        before = dict(copies.values_list("response_id", "label"))
    if not deleted:
        return 0
    responses = feedback_selectors.workspace_responses(
        workspace=Workspace(pk=analysis.workspace_id)
    ).filter(pk__in=[pk for pk in before if pk is not None])
    text_analyse_responses(responses=responses)
    after = dict(copies.values_list("response_id", "label"))
    return sum(1 for pk, label in after.items() if before.get(pk) != label)


@dataclass
class UploadReport:
    """What an upload of labelled texts did: rows saved (new or changed), unchanged, analyses
    relabelled, and each bad line's error ("line 7: label 'meh' is not …")."""

    saved: int = 0
    unchanged: int = 0
    relabelled: int = 0
    errors: list[str] = field(default_factory=list)


def _rows(data: bytes, text_column: str, label_column: str) -> Iterable[tuple[int, dict]]:
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"file: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(decoded.replace("\x00", ""), newline=""))
    try:
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    except csv.Error as exc:
        raise ValueError(f"file: line 1: {exc}") from exc
    missing = [c for c in (text_column, label_column) if c not in header]
    if missing:
        raise ValueError(
            f"file: the header has no column {' or '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, header)) or 'nothing'})"
        )
    reader.fieldnames = header
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv's size limit, a stray quote at the end
            raise ValueError(f"file: line {reader.line_num}: {exc}") from exc
        yield reader.line_num, row


_PLACEHOLDER = re.compile(r"\[(?:email|card|phone|address|name)\]")


def _has_words(text: str) -> bool:
    """Whether any letter or digit is left besides redaction placeholders (zero-width and other
    invisible characters are not words)."""
    return any(ch.isalnum() for ch in _PLACEHOLDER.sub(" ", text))


def sentiment_labels_upload(
    *,
    workspace: Workspace,
    data: bytes,
    by=None,
    text_column: str = "text",
    label_column: str = "label",
) -> UploadReport:
    """Store each CSV row's text (redacted) with its label (negative / neutral / positive, or
    −1 / 0 / 1); a bad line is reported by number and the good ones kept. Idempotent: a text is
    stored once per workspace (by its words), its latest label wins. Raises ``ValueError`` when
    the file itself cannot be read. Column names are matched trimmed and in any case (blank:
    ``text`` and ``label``)."""
    from cxloop.text.services import name_book

    text_column = text_column.strip().lower() or "text"
    label_column = label_column.strip().lower() or "label"
    report = UploadReport()
    known = name_book(workspace_id=workspace.pk).known
    wanted: dict[str, tuple[str, str]] = {}
    for line, row in _rows(data, text_column, label_column):
        if len(wanted) + len(report.errors) >= UPLOAD_MAX_ROWS:
            report.errors.append(
                f"line {line}: more than {UPLOAD_MAX_ROWS:,} rows; the rest skipped"
            )
            break
        raw = (row.get(text_column) or "").strip()
        word = (row.get(label_column) or "").strip().lower()
        if word not in LABEL_WORDS:
            shown = word[:40] or "(empty)"
            report.errors.append(
                f"line {line}: label {shown!r} is not negative, neutral or positive "
                "(or neg, neu, pos; -1, 0, 1)"
            )
            continue
        if not raw:
            report.errors.append(f"line {line}: text is empty")
            continue
        if len(raw) > sentiment.MAX_CHARS:
            report.errors.append(f"line {line}: text is over {sentiment.MAX_CHARS:,} characters")
            continue
        body, _ = sentiment.clean(raw)
        text = pii.redact(body, known_names=known).text
        if not _has_words(text):
            why = "no words" if not _has_words(body) else "no words once personal data is redacted"
            report.errors.append(f"line {line}: text has {why}")
            continue
        wanted[embeddings.digest(text)] = (text, LABEL_WORDS[word])
    if not wanted and not report.errors:
        raise ValueError("file: no rows under the header")
    with transaction.atomic():
        lock_workspace_for_labels(workspace.pk)
        have = dict(
            SentimentLabel.objects.filter(workspace=workspace, digest__in=list(wanted)).values_list(
                "digest", "label"
            )
        )
        for digest, (text, label) in wanted.items():
            if have.get(digest) == label:
                report.unchanged += 1
                continue
            SentimentLabel.objects.update_or_create(
                workspace=workspace,
                digest=digest,
                defaults={"text": text, "label": label, "source": "upload", "labelled_by": by},
            )
            report.saved += 1
        report.relabelled = _apply_people(
            workspace.pk, {digest: label for digest, (_, label) in wanted.items()}
        )
    return report


def sentiment_tuning_request(*, workspace: Workspace) -> SentimentTuning:
    """Queue a training of the workspace's own model (the one queued or running already, if
    any: one at a time, by a constraint), run by the background worker once this transaction
    commits. One busy for over ``STALE_AFTER`` (its worker stopped, its job lost) is marked
    failed first, so it cannot block training for good."""
    from cxloop.text.tasks import tune_sentiment

    counts = dict(
        SentimentLabel.objects.filter(workspace=workspace)
        .values_list("label")
        .annotate(n=Count("pk"))
        .values_list("label", "n")
    )
    tuning.refuse_few(np.repeat([0, 1, 2], [counts.get(name, 0) for name in tuning.CLASSES]))
    busy = SentimentTuning.objects.filter(workspace=workspace, state__in=BUSY)
    found = busy.first()  # at most one (the constraint)
    if found is not None and is_stale(found):
        SentimentTuning.objects.filter(pk=found.pk, state=found.state).update(
            state=SentimentTuning.State.FAILED,
            error="it did not finish within an hour (was the worker stopped?); train again",
            finished_at=timezone.now(),
        )
        found = None
    if found is not None:
        return found
    try:
        with transaction.atomic():
            row = SentimentTuning.objects.create(workspace=workspace)
    except IntegrityError:  # another request queued one in between (it may be done already)
        return busy.first() or SentimentTuning.objects.filter(workspace=workspace).latest("pk")
    transaction.on_commit(lambda: tune_sentiment.enqueue(tuning_id=row.pk))
    return row


def _learn(workspace_id: int) -> tuple[tuning.Tuned, tuning.Check, dict[str, int]]:
    head, model = scoring.active_head(), embeddings.engine()
    if head is None or model is None:
        raise tuning.TuningError(
            "the sentence-embedding model is not installed here "
            "(pip install -e '.[embeddings]'); the workspace's own model is built on it"
        )
    pairs = list(
        SentimentLabel.objects.filter(workspace_id=workspace_id)
        .order_by("pk")
        .values_list("text", "label")
    )
    y = tuning.classes_of([label for _, label in pairs])
    counts = {name: int((y == i).sum()) for i, name in enumerate(tuning.CLASSES)}
    tuning.refuse_few(y)
    texts = [text for text, _ in pairs]
    vectors = embeddings.embed(texts, model=model)
    lexicon = np.array([sentiment_head.lexicon_features(sentiment.analyse(t)) for t in texts])
    head_scores = head.scores(vectors, lexicon)
    x = tuning.features(vectors, lexicon, head_scores)
    shipped = tuning.classes_of([sentiment.label_of(float(s)) for s in head_scores])
    return tuning.fit(x, y, model=model.name), tuning.check(x, y, shipped), counts


def sentiment_tuning_run(*, tuning_id: int) -> SentimentTuning | None:
    """Train (the background task): cross-validate against the shipped head, adopt the model
    when it is better, then rescore the workspace's texts whose version changed."""
    from cxloop.text.services import texts_analyse_workspace

    claimed = SentimentTuning.objects.filter(
        pk=tuning_id, state=SentimentTuning.State.QUEUED
    ).update(state=SentimentTuning.State.RUNNING, started_at=timezone.now())
    row = SentimentTuning.objects.filter(pk=tuning_id).select_related("workspace").first()
    if row is None or not claimed:  # gone, or another delivery of the job has it
        return row
    fields: dict = {"state": SentimentTuning.State.FAILED}
    try:
        fitted, found, counts = _learn(row.workspace_id)
    except tuning.TuningError as refused:
        fields["error"] = str(refused)
    except Exception as exc:  # a failed training must be visible, never stuck "running"
        log.exception("sentiment tuning %s failed", row.pk)
        fields["error"] = f"training failed ({exc})"[:500]
    else:
        fields.update(
            state=SentimentTuning.State.DONE,
            labels=found.labels,
            counts=counts,
            tuned_f1=found.tuned_f1,
            shipped_f1=found.shipped_f1,
            gain_low=found.low,
            gain_high=found.high,
            adopted=found.better,
            weights=tuning.to_bytes(fitted) if found.better else None,
            base_version=scoring.HEAD_VERSION,
        )
    # written only while still running: one marked failed as stale meanwhile stays failed
    written = SentimentTuning.objects.filter(pk=row.pk, state=SentimentTuning.State.RUNNING).update(
        finished_at=timezone.now(), **fields
    )
    row.refresh_from_db()
    if written and row.state == SentimentTuning.State.DONE:
        # texts stored meanwhile by an older version are caught by the next pass
        for _ in range(RESCORE_PASSES):
            if not texts_analyse_workspace(workspace=row.workspace, missing_only=True):
                break
    return row
    try:
        fitted, found, counts = _learn(row.workspace_id)
    except tuning.TuningError as refused:
        row.state, row.error = SentimentTuning.State.FAILED, str(refused)
    except Exception as exc:  # a failed training must be visible, never stuck "running"
        log.exception("sentiment tuning %s failed", row.pk)
        row.state, row.error = SentimentTuning.State.FAILED, f"training failed ({exc})"[:500]
    else:
        row.state = SentimentTuning.State.DONE
        row.labels, row.counts = found.labels, counts
        row.tuned_f1, row.shipped_f1 = found.tuned_f1, found.shipped_f1
        row.gain_low, row.gain_high = found.low, found.high
        row.adopted = found.better
        row.weights = tuning.to_bytes(fitted) if found.better else None
        row.base_version = scoring.HEAD_VERSION
    row.finished_at = timezone.now()
    row.save()
    if row.state == SentimentTuning.State.DONE:
        # texts stored meanwhile by an older version are caught by the next pass
        for _ in range(RESCORE_PASSES):
            if not texts_analyse_workspace(workspace=row.workspace, missing_only=True):
                break
    return row
