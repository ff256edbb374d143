"""The dashboard's filter menus: the values offered (surveys, channels, touchpoints, trait keys,
themes) and which trait keys a breakdown may offer. Public through ``metrics.selectors``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cxloop.core.models import Workspace
from cxloop.feedback import selectors as feedback_selectors
from cxloop.metrics.filters import TRAIT_KEY
from cxloop.text import selectors as text_selectors


@dataclass(frozen=True, slots=True)
class FilterOptions:
    surveys: list[tuple[int, str]]
    channels: list[str]
    touchpoints: list[str]
    trait_keys: list[str]
    breakdown_keys: list[str]  # trait keys a breakdown may offer (see filter_options)
    themes: list[tuple[int, str]]


TRAIT_SAMPLE = 2_000
BREAKDOWN_MAX_VALUES = 20  # a trait with more distinct values is too fine to break down by
# trait keys that hold personal data (names, contact details, identifiers, dates of birth):
# never offered as a breakdown, whatever their values
PERSONAL_KEY = re.compile(
    r"(^|[_.\-])(e-?mail|surname|phone|mobile|tel|address|street|postcode|post_?code|zip"
    r"|birth|birthday|dob|ssn|passport|iban|card|ip|id)($|[_.\-])",
    re.IGNORECASE,
)


def trait_key_personal(key: str) -> bool:
    """True when a trait's name says it holds personal data (``email``, ``first_name``...)."""
    return PERSONAL_KEY.search(key) is not None or "name" in key.lower()


def filter_options(*, workspace: Workspace, theme: int | None = None) -> FilterOptions:
    """Values offered in the dashboard's filter menus (a hidden ``theme`` too while chosen).

    Trait keys come from the customers who answered most recently (a sample of
    ``TRAIT_SAMPLE``), so the menu stays quick on large workspaces. A breakdown offers only
    traits that are not personal (:func:`trait_key_personal`) and have at most
    ``BREAKDOWN_MAX_VALUES`` values in that sample: a split by email made one row per person.
    """
    responses = feedback_selectors.workspace_responses(workspace=workspace)
    recent = (
        responses.filter(customer__isnull=False)
        .order_by("-pk")
        .values_list("customer__traits", flat=True)[:TRAIT_SAMPLE]
    )
    keys: set[str] = set()
    values: dict[str, set[str]] = {}
    for traits in recent:
        if isinstance(traits, dict):
            for k, v in traits.items():
                if isinstance(k, str) and TRAIT_KEY.fullmatch(k):
                    keys.add(k)
                    seen = values.setdefault(k, set())
                    if len(seen) <= BREAKDOWN_MAX_VALUES:
                        seen.add(str(v) if not isinstance(v, dict | list) else "\x00")
    pairs = set(responses.values_list("channel", "touchpoint").distinct())
    return FilterOptions(
        surveys=list(
            feedback_selectors.published_surveys(workspace=workspace)
            .order_by("name")
            .values_list("pk", "name")
        ),
        channels=sorted({channel for channel, _ in pairs if channel}),
        touchpoints=sorted({touchpoint for _, touchpoint in pairs if touchpoint})[:200],
        trait_keys=sorted(keys),
        breakdown_keys=sorted(
            k
            for k in keys
            if not trait_key_personal(k)
            and "\x00" not in values[k]
            and len(values[k]) <= BREAKDOWN_MAX_VALUES
        ),
        themes=text_selectors.theme_choices(workspace=workspace, chosen=theme),
    )
