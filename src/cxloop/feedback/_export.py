"""The survey responses' export (JSON rows and CSV lines), in bounded memory, redacted for readers
without ``read_pii``. Public through ``feedback.selectors``, which re-exports these names."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime

from cxloop.core import csvsafe, pii
from cxloop.customers import selectors as customer_selectors
from cxloop.feedback.models import Answer, Response, Survey

EXPORT_FIXED = (
    "response_id", "response_key", "submitted_at", "started_at", "completed", "customer_id",
    "customer_email", "language", "source", "channel", "touchpoint", "nps_score", "csat_score",
    "ces_score",
)  # fmt: skip


def responses_export(*, survey: Survey, chunk: int = 1000, redact: bool = False) -> Iterator[dict]:
    """Every response with its answers (keyed by question), oldest first, in bounded memory.
    ``redact``: free-text answers with personal data replaced (``core.pii``), for readers
    without ``read_pii``."""
    keys = list(survey.questions.values_list("key", flat=True))
    free_text = (
        set(survey.questions.filter(type="text").values_list("key", flat=True)) if redact else set()
    )
    last = 0
    while True:
        batch = list(Response.objects.filter(survey=survey, pk__gt=last).order_by("pk")[:chunk])
        if not batch:
            return
        last = batch[-1].pk
        answers: dict[int, dict] = {r.pk: {} for r in batch}
        for response_id, key, value in Answer.objects.filter(response__in=batch).values_list(
            "response_id", "question__key", "value"
        ):
            if key in free_text and isinstance(value, str):
                value = pii.redact_text(value)
            answers[response_id][key] = value
        emails = customer_selectors.customer_first_identities(
            customer_ids={r.customer_id for r in batch if r.customer_id}, kind="email"
        )
        for r in batch:
            yield {
                "response_id": r.pk,
                "response_key": r.response_key,
                "submitted_at": r.submitted_at,
                "started_at": r.started_at,
                "completed": r.completed,
                "customer_id": r.customer_id,
                "customer_email": emails.get(r.customer_id, "") if r.customer_id else "",
                "language": r.language,
                "source": r.source,
                "channel": r.channel,
                "touchpoint": r.touchpoint,
                "nps_score": r.nps_score,
                "csat_score": r.csat_score,
                "ces_score": r.ces_score,
                "answers": {k: answers[r.pk][k] for k in keys if k in answers[r.pk]},
            }


def responses_csv(*, survey: Survey, redact: bool = False) -> Iterator[str]:
    """The CSV export, line by line: fixed columns, then one column per question key.

    Text that a spreadsheet would run as a formula is escaped (``core.csvsafe``); numbers stay
    numbers. ``redact`` as in ``responses_export``."""
    keys = list(survey.questions.values_list("key", flat=True))
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([*EXPORT_FIXED, *keys])
    yield flush()
    for row in responses_export(survey=survey, redact=redact):
        cells = [_cell(row[name]) for name in EXPORT_FIXED]
        cells += [_cell(row["answers"].get(key)) for key in keys]
        writer.writerow(cells)
        yield flush()


def _cell(value: object) -> object:
    """A value for the CSV writer: numbers stay numbers, everything else becomes text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(map(str, value))
    return str(value)
