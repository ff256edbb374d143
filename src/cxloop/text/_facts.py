"""A response's text analytics as one small record, for rule conditions (workflows): its
sentiment label and score and the themes it carries, read from its stored analysis, or worked
out on the spot when the analysis has not run yet (the reaction to a new response may come
before the analysis task), the same way the analysis would, without storing anything."""

from __future__ import annotations

from dataclasses import dataclass

from cxloop.core import pii
from cxloop.core.models import Workspace
from cxloop.text import embeddings, scoring, sentiment, themes
from cxloop.text._teaching import teaching_for
from cxloop.text.models import TextAnalysis, TextTheme, Theme


@dataclass(frozen=True)
class ResponseText:
    label: str | None  # positive, neutral, negative; None: no comment
    score: float | None  # the compound score, −1…+1
    theme_ids: frozenset[int]
    analysed: bool  # read from the stored analysis (False: worked out now, or no text)


def response_text(*, workspace: Workspace, response_id: int, comment: str) -> ResponseText:
    """Sentiment and themes of one response's ``comment``: the stored analysis when there is
    one, else computed now (redacted first, as the analysis does; themes by each theme's key
    phrases and keyword rules, as a new text is tagged; scored by the learned head when it is
    active, or the workspace's own model and its people's labels, as the analysis scores). No text: no label, no themes."""
    stored = (
        TextAnalysis.objects.filter(workspace=workspace, response_id=response_id)
        .only("pk", "label", "score")
        .first()
    )
    if stored is not None:
        ids = TextTheme.objects.filter(analysis=stored).values_list("theme_id", flat=True)
        return ResponseText(stored.label, stored.score, frozenset(ids), True)
    if not comment or not comment.strip():
        return ResponseText(None, None, frozenset(), False)
    body, _ = sentiment.clean(comment)
    text = pii.redact(body).text
    taught = teaching_for(workspace_id=workspace.pk, digests=[embeddings.digest(text)])
    result = scoring.analyse_many([text], taught)[0]
    rows = Theme.objects.filter(workspace=workspace).values_list("pk", "phrases", "rules")
    known = [(pk, phrases) for pk, phrases, _ in rows]
    rules = {pk: chosen for pk, _, chosen in rows if chosen}
    found = themes.match(text, known, rules=rules) if known else []
    return ResponseText(result.label, result.score, frozenset(t for t, _ in found), False)
