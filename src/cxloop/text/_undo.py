"""Undo of the last merge or split of a workspace's themes.

Before a merge or split, the themes it will change or delete are written down as they are
(``snapshot``); undoing puts them back with their own ids (links to them, such as a workflow
rule's theme or a bookmarked trend page, work again) and deletes the themes the change made.
Only the latest change can be undone, and only until the themes are curated again: any later
curation forgets it (``forget``), so an undo never reverts more than the person saw.

Texts analysed between the change and its undo keep what they were given meanwhile: a text a
merged theme picked up stays in it, and one a split half picked up goes to the theme put back.
"""

from __future__ import annotations

from django.db import transaction

from cxloop.core.db import lock_workspace_for_themes
from cxloop.text.models import TextAnalysis, TextTheme, Theme, ThemeUndo

FIELDS = ("name", "phrases", "rules", "hidden", "curated")


class UndoError(ValueError):
    """Nothing to undo, or not that change any more (named field and reason in the message)."""


def snapshot(theme: Theme) -> dict:
    """``theme`` as it is now: its fields and its texts (analysis id, weight, by rule)."""
    links = TextTheme.objects.filter(theme=theme).order_by("analysis_id")
    return {
        "id": theme.pk,
        **{field: getattr(theme, field) for field in FIELDS},
        "links": [list(row) for row in links.values_list("analysis_id", "weight", "by_rule")],
    }


def forget(*, workspace_id: int) -> None:
    """The themes are being curated again: the last change can no longer be undone. Called
    inside the curation's transaction, which it serializes with the workspace's others."""
    lock_workspace_for_themes(workspace_id)
    ThemeUndo.objects.filter(workspace_id=workspace_id).delete()


def remember(*, workspace_id: int, said: str, before: list[dict], made: list[int]) -> ThemeUndo:
    """Keep ``before`` (snapshots taken before the change) and the ids of the themes the change
    made, as the workspace's one change that can be undone."""
    forget(workspace_id=workspace_id)
    return ThemeUndo.objects.create(
        workspace_id=workspace_id, said=said[:400], state={"themes": before, "made": made}
    )


def undo(*, workspace_id: int, change_id: int) -> ThemeUndo:
    """Undo change ``change_id`` when it is still the workspace's last one: the themes it made
    are deleted, and those it changed or deleted are as they were, with their ids."""
    with transaction.atomic():
        lock_workspace_for_themes(workspace_id)
        change = ThemeUndo.objects.filter(workspace_id=workspace_id, pk=change_id).first()
        if change is None:
            raise UndoError(
                "undo: that change was undone already, or the themes were changed since; "
                "only the latest merge or split can be undone"
            )
        before: list[dict] = change.state["themes"]
        made = Theme.objects.filter(workspace_id=workspace_id, pk__in=change.state["made"])
        # what the made themes picked up since the change goes back with the rest
        since = dict(TextTheme.objects.filter(theme__in=made).values_list("analysis_id", "weight"))
        made.delete()
        alive = set(
            TextAnalysis.objects.filter(
                workspace_id=workspace_id,
                pk__in={link[0] for snap in before for link in snap["links"]} | set(since),
            ).values_list("pk", flat=True)
        )
        for snap in before:
            _put_back(workspace_id, snap, before, since, alive)
        change.delete()
    return change


def _put_back(workspace_id: int, snap: dict, before: list[dict], since: dict, alive: set) -> None:
    own = {link[0] for link in snap["links"]}
    others = {link[0] for other in before if other is not snap for link in other["links"]}
    theme = Theme.objects.filter(workspace_id=workspace_id, pk=snap["id"]).first()
    if theme is None:  # deleted by the change: made again with its own id
        theme = Theme.objects.create(
            pk=snap["id"], workspace_id=workspace_id, **{f: snap[f] for f in FIELDS}
        )
        extra = {pk: weight for pk, weight in since.items() if pk not in own}
    else:  # kept by the change (a merge's target): the texts it was given leave it again
        for field in FIELDS:
            setattr(theme, field, snap[field])
        theme.save(update_fields=list(FIELDS))
        TextTheme.objects.filter(theme=theme, analysis_id__in=others - own).delete()
        extra = {}
    TextTheme.objects.filter(theme=theme, analysis_id__in=own).delete()
    TextTheme.objects.bulk_create(
        [
            TextTheme(analysis_id=pk, theme=theme, weight=weight, by_rule=by_rule)
            for pk, weight, by_rule in snap["links"]
            if pk in alive
        ]
        + [
            TextTheme(analysis_id=pk, theme=theme, weight=weight)
            for pk, weight in extra.items()
            if pk in alive
        ]
    )
