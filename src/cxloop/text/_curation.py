"""Themes curated by people: discovery, rename, hide, merge, split, keyword rules, and undo
of the last merge or split (``_undo``). Re-exported by ``cxloop.text.services``."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from cxloop.core.db import lock_workspace_for_themes
from cxloop.core.models import Workspace
from cxloop.text import _undo, embeddings, themes
from cxloop.text.models import TextAnalysis, TextTheme, Theme, ThemeUndo


class ThemeError(ValueError):
    """A curation the themes do not allow (named field and reason in the message)."""


@dataclass(frozen=True)
class ThemesFound:
    """What a discovery did: the themes it created, and the names of those it found but left
    out because the curated themes already hold most of their texts."""

    created: list[Theme]
    covered: list[str]

    def __bool__(self) -> bool:
        return bool(self.created or self.covered)


def themes_discover(*, workspace: Workspace, k: int | None = None) -> ThemesFound:
    """Discover themes in the workspace's analysed texts and tag each text: clusters of sentence
    embeddings when the model is installed, else TF-IDF + NMF. Themes people have curated
    (renamed, merged, split or hidden) stay as they are and stand for what they hold: a theme
    found again is created only when at most half of its texts carry a curated theme (a split
    theme does not come back beside its halves, nor a hidden one in the open); the others are
    replaced."""
    rows = list(
        TextAnalysis.objects.filter(workspace=workspace).order_by("pk").values_list("pk", "text")
    )
    texts = [text for _, text in rows]
    found = themes.discover(texts, k=k, vectors=_theme_vectors(texts))
    with transaction.atomic():
        _undo.forget(workspace_id=workspace.pk)
        Theme.objects.filter(workspace=workspace, curated=False).delete()
        curated = set(
            TextTheme.objects.filter(theme__workspace=workspace).values_list(
                "analysis_id", flat=True
            )
        )
        created, covered = [], []
        for item in found:
            held = sum(rows[i][0] in curated for i, _ in item.members)
            if held * 2 > len(item.members):
                covered.append(item.name)
                continue
            theme = Theme.objects.create(
                workspace=workspace, name=item.name[:120], phrases=list(item.phrases)
            )
            TextTheme.objects.bulk_create(
                TextTheme(analysis_id=rows[i][0], theme=theme, weight=weight)
                for i, weight in item.members
            )
            created.append(theme)
    return ThemesFound(created, covered)


def _theme_vectors(texts: list[str]) -> np.ndarray | None:
    """Sentence embeddings to cluster into themes when the model is installed (cached), else
    None: themes then come from TF-IDF + NMF."""
    model = embeddings.engine()
    if model is None or len(texts) < themes.MIN_TEXTS:
        return None
    return embeddings.embed(texts, model=model)


def theme_rename(*, theme: Theme, name: str) -> Theme:
    """Rename a theme (and keep it through rediscovery). Invisible formatting characters
    (zero-width spaces, direction overrides that would turn the page's text around) are
    dropped; a name needs a letter or digit."""
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cf", "Cc") or ch == "\n")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 120 or not any(ch.isalnum() for ch in name):
        raise ThemeError("name: 1–120 characters, with a letter or digit")
    return _curated(theme, name=name)


def theme_set_hidden(*, theme: Theme, hidden: bool) -> Theme:
    """Hide or show a theme; either is curation, so the theme is kept through rediscovery."""
    return _curated(theme, hidden=hidden)


def _curated(theme: Theme, **fields: object) -> Theme:
    """Save ``fields`` on ``theme`` as people's curation (kept through rediscovery); the last
    merge or split can no longer be undone."""
    for field, value in fields.items():
        setattr(theme, field, value)
    theme.curated = True
    with transaction.atomic():
        _undo.forget(workspace_id=theme.workspace_id)
        theme.save(update_fields=[*fields, "curated"])
    return theme


def themes_merge(*, into: Theme, other: Theme) -> Theme:
    """Fold ``other`` into ``into``: its texts (the stronger link kept where both had one) and
    phrases move; ``other`` is deleted. The merge can be undone until the themes are curated
    again (``theme_undo``)."""
    if into.pk == other.pk or into.workspace_id != other.workspace_id:
        raise ThemeError("into: choose another theme of this workspace")
    with transaction.atomic():
        lock_workspace_for_themes(into.workspace_id)  # the snapshots and the merge as one
        _undo.remember(
            workspace_id=into.workspace_id,
            said=f"Merged “{other.name}” into “{into.name}”.",
            before=[_undo.snapshot(into), _undo.snapshot(other)],
            made=[],
        )
        have = dict(TextTheme.objects.filter(theme=into).values_list("analysis_id", "weight"))
        for link in TextTheme.objects.filter(theme=other):
            if link.analysis_id not in have:
                TextTheme.objects.create(
                    analysis_id=link.analysis_id, theme=into, weight=link.weight
                )
            elif link.weight > have[link.analysis_id]:
                TextTheme.objects.filter(theme=into, analysis_id=link.analysis_id).update(
                    weight=link.weight
                )
        into.phrases = list(dict.fromkeys([*into.phrases, *other.phrases]))
        into.curated = True
        into.save(update_fields=["phrases", "curated"])
        other.delete()
    return into


MAX_RULES = 20
MAX_RULE = 80


@dataclass(frozen=True)
class RulesChange:
    """What new keyword rules did: texts that gained the theme, and texts that lost it (linked
    only by a rule the theme no longer has)."""

    gained: int
    lost: int


def theme_set_rules(*, theme: Theme, rules: Iterable[str]) -> RulesChange:
    """Give ``theme`` keyword rules (words or phrases, whole words, any case): every text of the
    workspace containing one carries the theme from now on, and so does each new text. Texts
    that carried it only because of a rule no longer given lose it (those it had before, from
    discovery or a merge, keep it), so rules can be undone. An empty list removes the rules."""
    tidy = [" ".join(r.split()) for r in rules if r and r.strip()]
    chosen: list[str] = []
    for rule in tidy:  # once each, any case; the first spelling kept
        if rule.lower() not in {c.lower() for c in chosen}:
            chosen.append(rule)
    if len(chosen) > MAX_RULES:
        raise ThemeError(f"rules: at most {MAX_RULES} words or phrases")
    for rule in chosen:
        if len(rule) > MAX_RULE or "\x00" in rule or not themes.words_of(rule):
            raise ThemeError(f"rules: {rule[:40]!r} must be 1–{MAX_RULE} characters with a word")

    def ruled(text: str) -> bool:
        return bool(chosen) and bool(themes.match(text, [(theme.pk, [])], rules={theme.pk: chosen}))

    with transaction.atomic():
        _undo.forget(workspace_id=theme.workspace_id)
        theme.rules, theme.curated = chosen, True
        theme.save(update_fields=["rules", "curated"])
        by_rule = TextTheme.objects.filter(theme=theme, by_rule=True)
        stale = [
            pk
            for pk, text in TextAnalysis.objects.filter(
                pk__in=by_rule.values("analysis_id")
            ).values_list("pk", "text")
            if not ruled(text)
        ]
        lost, _ = by_rule.filter(analysis_id__in=stale).delete()
        if not chosen:
            return RulesChange(0, lost)
        have = set(TextTheme.objects.filter(theme=theme).values_list("analysis_id", flat=True))
        rows = TextAnalysis.objects.filter(workspace_id=theme.workspace_id).values_list(
            "pk", "text"
        )
        new = [
            TextTheme(analysis_id=pk, theme=theme, weight=1.0, by_rule=True)
            for pk, text in rows.iterator(chunk_size=2000)
            if pk not in have and ruled(text)
        ]
        TextTheme.objects.bulk_create(new, ignore_conflicts=True)
    return RulesChange(len(new), lost)


def theme_split(*, theme: Theme) -> list[Theme]:
    """Split ``theme`` in two by finding two themes among its own texts (the same way as
    discovery: embeddings + k-means, or TF-IDF + NMF): each new theme is named by its key
    phrases, curated, and takes its texts; ``theme`` is deleted. Refused when its texts do not
    fall apart into two. The split can be undone until the themes are curated again."""
    links = list(
        TextTheme.objects.filter(theme=theme)
        .order_by("analysis_id")
        .values_list("analysis_id", "analysis__text")
    )
    texts = [text for _, text in links]
    found = themes.discover(texts, k=2, vectors=_theme_vectors(texts))
    if len(found) < 2:
        raise ThemeError(
            f"theme: its {len(links)} texts do not fall into two groups of their own words "
            f"(at least {themes.MIN_TEXTS} texts with shared words are needed)"
        )
    with transaction.atomic():
        lock_workspace_for_themes(theme.workspace_id)
        before = _undo.snapshot(theme)
        created = []
        for item in found[:2]:
            part = Theme.objects.create(
                workspace_id=theme.workspace_id,
                name=item.name[:120],
                phrases=list(item.phrases),
                curated=True,
            )
            TextTheme.objects.bulk_create(
                TextTheme(analysis_id=links[i][0], theme=part, weight=weight)
                for i, weight in item.members
            )
            created.append(part)
        theme.delete()
        _undo.remember(
            workspace_id=theme.workspace_id,
            said=f"Split “{before['name']}” into {' and '.join(f'“{p.name}”' for p in created)}.",
            before=[before],
            made=[p.pk for p in created],
        )
    return created


def theme_undo(*, workspace: Workspace, change_id: int) -> ThemeUndo:
    """Undo the workspace's last merge or split (``change_id``: the one the person saw)."""
    try:
        return _undo.undo(workspace_id=workspace.pk, change_id=change_id)
    except _undo.UndoError as refused:
        raise ThemeError(str(refused)) from None
