"""Bring feedback history in: survey results exported from another tool, and reviews.

Both read CSV text (RFC 4180, the dialect of Excel and pandas; the user may choose a semicolon or
tab delimiter instead: the dialect is never guessed), report each bad row by its line number (the
header is line 1) with the reason, and keep every good row. Re-importing the same file stores nothing twice: each row's response key
comes from its id column or, without one, from its content.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cxloop.core.models import Workspace
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback import selectors, services
from cxloop.feedback.logic import FeedbackError, FieldError
from cxloop.feedback.models import Survey

MAX_BYTES = 20 * 1024 * 1024
FIXED_TARGETS = {
    "customer_email": "Customer email",
    "submitted_at": "Submitted at (date/time)",
    "response_id": "Response id (for de-duplication)",
    "channel": "Channel",
    "touchpoint": "Touchpoint",
    "language": "Language",
}


# The delimiters a user may choose; everything else is RFC 4180 (csv.excel: doubled quotes,
# quoted fields may hold delimiters and line breaks). Guessing the dialect from a sample
# (csv.Sniffer) misread ordinary files with quoted text, so it is never guessed.
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t"}
DELIMITER_LABELS = {"comma": "Comma (,)", "semicolon": "Semicolon (;)", "tab": "Tab"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (not CSV, no header, too big)."""


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    unmatched_customers: int = 0
    errors: list[FieldError] = field(default_factory=list)

    def error(self, line: int, message: str) -> None:
        self.errors.append(FieldError(f"line {line}", message))


def read_csv(
    text: str | bytes, *, delimiter: str = "comma"
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) rows of a CSV file; raises ImportFileError.

    ``delimiter`` is a name from DELIMITERS; the rest of the dialect is RFC 4180.
    """
    if delimiter not in DELIMITERS:
        raise ImportFileError(f"delimiter: choose one of {', '.join(DELIMITERS)}")
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise ImportFileError(f"the file is larger than {MAX_BYTES // 1024 // 1024} MB")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFileError("the file is not UTF-8 text (save it as CSV UTF-8)") from None
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=DELIMITERS[delimiter])
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    except csv.Error as exc:
        raise ImportFileError(f"line 1: {exc}") from None
    if not any(header):
        raise ImportFileError("line 1 must name the columns")
    rows = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportFileError(f"line {reader.line_num}: {exc}") from None
        if any(cell.strip() for cell in cells):
            rows.append((reader.line_num, cells))
    return header, rows


def guess_mapping(*, survey: Survey, header: list[str]) -> dict[str, str]:
    """A first guess of column → target: question keys and the usual column names."""
    keys = set(survey.questions.values_list("key", flat=True))
    synonyms = {
        "email": "customer_email", "customer_email": "customer_email", "e-mail": "customer_email",
        "submitted_at": "submitted_at", "date": "submitted_at", "submitted": "submitted_at",
        "timestamp": "submitted_at", "created_at": "submitted_at", "id": "response_id",
        "response_id": "response_id", "channel": "channel", "language": "language",
        "touchpoint": "touchpoint",
    }  # fmt: skip
    mapping = {}
    for column in header:
        name = column.strip().lower().replace(" ", "_")
        if name in keys:
            mapping[column] = f"q:{name}"
        elif name in synonyms:
            mapping[column] = synonyms[name]
        elif "recommend" in name and "nps" in keys:
            mapping[column] = "q:nps"
    return mapping


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # the tracking API's bound too


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """ISO date or date-time (naive means UTC) from 1970 to a day after ``now``; ValueError
    otherwise (a year-9999 answer would sit at the end of every trend forever)."""
    text = text.strip()
    when = parse_datetime(text.replace("/", "-")) if text else None
    if when is None:
        day = parse_date(text.replace("/", "-")) if text else None
        if day is None:
            raise ValueError(f"{text!r} is not a date (use 2025-03-31 or 2025-03-31 14:05)")
        when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    if timezone.is_naive(when):
        when = when.replace(tzinfo=UTC)
    latest = (now or timezone.now()) + timedelta(days=1)
    if not EARLIEST <= when <= latest:
        raise ValueError(f"{text!r} is outside 1970-01-01 … {latest:%Y-%m-%d} (a day from now)")
    return when


def responses_import(
    *, survey: Survey, text: str | bytes, mapping: dict[str, str], delimiter: str = "comma"
) -> ImportReport:
    """Import survey results: ``mapping`` says which column holds what (``q:<key>`` for answers).

    Rows are matched to customers by email (unknown emails are kept without a customer and
    counted). Each row is stored whole or not at all; bad rows are reported by line.
    """
    header, rows = read_csv(text, delimiter=delimiter)
    keys = {q.key: q for q in survey.questions.all()}
    errors = []
    targets: dict[int, str] = {}
    for column, target in mapping.items():
        if not target:
            continue
        if column not in header:
            errors.append(FieldError(f"mapping.{column}", "no such column in the file"))
        elif target.startswith("q:") and target[2:] not in keys:
            errors.append(FieldError(f"mapping.{column}", f"no question {target[2:]!r}"))
        elif not target.startswith("q:") and target not in FIXED_TARGETS:
            errors.append(FieldError(f"mapping.{column}", f"unknown target {target!r}"))
        elif target in targets.values():
            errors.append(FieldError(f"mapping.{column}", f"{target} is mapped twice"))
        else:
            targets[header.index(column)] = target
    if not any(t.startswith("q:") for t in targets.values()):
        errors.append(FieldError("mapping", "map at least one column to a question"))
    if errors:
        raise FeedbackError(errors)

    report = ImportReport(rows=len(rows))
    email_col = next((i for i, t in targets.items() if t == "customer_email"), None)
    emails = [
        cells[email_col] for _, cells in rows if email_col is not None and email_col < len(cells)
    ]
    customer_ids = selectors.customer_ids_by_email(workspace=survey.workspace, emails=emails)
    customers = {
        c.pk: c
        for c in customer_selectors.customers_by_ids(
            workspace=survey.workspace, ids=set(customer_ids.values())
        )
    }
    content_id = _ContentIds()
    for line, cells in rows:
        values = {t: (cells[i].strip() if i < len(cells) else "") for i, t in targets.items()}
        answers: dict[str, str | list[str]] = {}
        for target, value in values.items():
            if not target.startswith("q:") or value == "":
                continue
            key = target[2:]
            if keys[key].type == "multiple_choice":
                answers[key] = [v.strip() for v in value.replace(",", ";").split(";") if v.strip()]
            else:
                answers[key] = value
        try:
            when = parse_when(values["submitted_at"]) if values.get("submitted_at") else None
        except ValueError as exc:
            report.error(line, f"submitted_at: {exc}")
            continue
        email = values.get("customer_email", "").lower()
        customer = customers.get(customer_ids.get(email, 0))
        if email and customer is None:
            report.unmatched_customers += 1
        row_id = values.get("response_id") or content_id(cells)
        language = values.get("language", "").lower()
        try:
            result = services.response_submit(
                survey=survey,
                answers=answers,
                response_key=f"import:{row_id}"[:64],
                customer=customer,
                language=language if language in survey.languages else "",
                source="import",
                channel=values.get("channel", ""),
                touchpoint=values.get("touchpoint", ""),
                at=when,
                check_open=False,
            )
        except FeedbackError as exc:
            report.error(line, "; ".join(str(e) for e in exc.errors))
            continue
        if result.duplicate:
            report.duplicates += 1
        else:
            report.imported += 1
    return report


REVIEW_COLUMNS = {
    "rating": ("rating", "stars", "score"),
    "text": ("text", "review", "body", "comment", "message", "content", "tweet", "transcript"),
    "site": ("source", "site", "platform", "channel"),
    "date": ("date", "submitted_at", "created_at", "published_at", "timestamp"),
    "email": ("email", "customer_email", "author_email"),
    "user_id": ("user_id", "customer_id", "userid"),
    "id": ("id", "review_id", "external_id", "message_id", "ticket_id"),
    "title": ("title", "headline", "subject"),
}


def reviews_import(
    *, workspace: Workspace, text: str | bytes, default_site: str = "", delimiter: str = "comma"
) -> ImportReport:
    """Import reviews and other customer text (tweets, app-store reviews, chat transcripts,
    ticket bodies): columns text, rating (1–5, optional), source (site), date, email, user_id
    (the customer's id in your systems), id, title.

    A ``text`` or a ``rating`` column is required; a row needs a text or a rating (text-only rows
    are valid feedback). A missing source uses ``default_site``. The customer is matched by
    email, else by user id.
    """
    header, rows = read_csv(text, delimiter=delimiter)
    lower = [h.strip().lower() for h in header]
    where = {}
    for name, aliases in REVIEW_COLUMNS.items():
        found = next((lower.index(a) for a in aliases if a in lower), None)
        if found is not None:
            where[name] = found
    if "rating" not in where and "text" not in where:
        raise ImportFileError(
            "line 1: missing column text (or rating); expected text, rating, source, date, "
            "email, user_id, id"
        )
    report = ImportReport(rows=len(rows))

    def column(name: str) -> list[str]:
        index = where.get(name)
        return [c[index].strip() for _, c in rows if index is not None and index < len(c)]

    customer_ids = selectors.customer_ids_by_email(workspace=workspace, emails=column("email"))
    user_ids = customer_selectors.customer_ids_by_identity(
        workspace=workspace, kind="user_id", values=[v for v in column("user_id") if v]
    )
    customers = {
        c.pk: c
        for c in customer_selectors.customers_by_ids(
            workspace=workspace, ids=set(customer_ids.values()) | set(user_ids.values())
        )
    }
    content_id = _ContentIds()
    for line, cells in rows:
        row = dict.fromkeys(REVIEW_COLUMNS, "")
        row.update(
            (name, cells[index].strip()) for name, index in where.items() if index < len(cells)
        )
        get = row.__getitem__
        rating = get("rating").split("/")[0].strip()
        site = get("site") or default_site
        if not site:
            report.error(line, "source: name the review site (or choose a default source)")
            continue
        try:
            when = parse_when(get("date")) if get("date") else timezone.now()
        except ValueError as exc:
            report.error(line, f"date: {exc}")
            continue
        body = get("text")
        if get("title"):
            body = f"{get('title')}\n\n{body}" if body else get("title")
        email = get("email").lower()
        customer = customers.get(customer_ids.get(email, 0)) or customers.get(
            user_ids.get(get("user_id"), 0)
        )
        if (email or get("user_id")) and customer is None:
            report.unmatched_customers += 1
        try:
            result = services.review_add(
                workspace=workspace,
                rating=rating,
                text=body,
                site=site,
                review_id=get("id") or content_id([site, get("date"), rating, body]),
                at=when,
                customer=customer,
            )
        except FeedbackError as exc:
            messages = [str(e).replace("answers.", "") for e in exc.errors]
            report.error(line, "; ".join(messages))
            continue
        if result.duplicate:
            report.duplicates += 1
        else:
            report.imported += 1
    return report


class _ContentIds:
    """Ids for rows without one: a hash of the row plus how often that row came before.

    Identical rows in one file stay distinct answers (score-only exports repeat rows), while
    importing the same file again gives the same ids, so nothing is stored twice.
    """

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, cells: list[str]) -> str:
        digest = hashlib.sha1("\x1f".join(cells).encode(), usedforsecurity=False).hexdigest()[:32]
        self.seen[digest] += 1
        return f"{digest}-{self.seen[digest]}"
