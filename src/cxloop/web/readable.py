"""Data written for people: trait names as words, event properties as one short line.

Pure functions (no Django), used by the customer pages and their template filters.
"""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# abbreviations kept in capitals when a name is turned into words
_UPPER = {
    "id": "ID",
    "crm": "CRM",
    "url": "URL",
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "sku": "SKU",
}
MAX_PARTS = 6
MAX_TEXT = 40


def words(key: str) -> list[str]:
    """``loyalty_tier`` / ``loyaltyTier`` / ``loyalty-tier`` → ``["loyalty", "tier"]``."""
    spaced = _CAMEL.sub(" ", key).replace("_", " ").replace("-", " ").replace(".", " ")
    return [word.lower() for word in spaced.split()]


def trait_label(key: str) -> str:
    """A trait or property name as a heading: ``loyalty_tier`` → ``Loyalty tier``,
    ``crm_id`` → ``CRM ID``."""
    parts = [_UPPER.get(word, word) for word in words(key)]
    if not parts:
        return key
    first = parts[0]
    parts[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(parts)


def _name(key: str) -> str:
    return " ".join(_UPPER.get(word, word) for word in words(key)) or key


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _text(value: str) -> str:
    value = " ".join(value.split())
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _part(key: str, value: object) -> str | None:
    name = _name(key)
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return name if value else f"not {name}"
    if isinstance(value, int | float):
        return f"{name} {_number(value)}"
    if isinstance(value, str):
        return f"{name} {_text(value)}"
    if isinstance(value, list):
        count = len(value)
        return f"{count} {_singular(name) if count == 1 else name}"
    if isinstance(value, dict):
        inner = [
            p for k, v in value.items() if not isinstance(v, list | dict) and (p := _part(k, v))
        ]
        return f"{name}: {', '.join(inner[:2])}" if inner else name
    return f"{name} {_text(str(value))}"


def _rank(value: object) -> int:
    if isinstance(value, list):
        return 0
    if isinstance(value, bool):
        return 3
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 4


def properties_line(properties: object, *, skip: tuple[str, ...] = ("channel",)) -> str:
    """An event's properties as one short line, e.g. ``3 products · total 59.90 · coupon
    SPRING`` for ``{"products": [...], "total": 59.9, "coupon": "SPRING"}``: lists become
    counts, numbers keep two decimals at most, long texts are cut, empty values left out; in the
    same order on every database."""
    if not isinstance(properties, dict):
        return ""
    # an order of its own (PostgreSQL's jsonb does not keep the sender's): counts, numbers,
    # texts, flags, objects; by name within each
    items = sorted(properties.items(), key=lambda item: (_rank(item[1]), str(item[0])))
    parts = [
        part
        for key, value in items
        if key not in skip and (part := _part(str(key), value)) is not None
    ]
    more = len(parts) - MAX_PARTS
    shown = " · ".join(parts[:MAX_PARTS])
    return f"{shown} · +{more} more" if more > 0 else shown


def has_nested(properties: object) -> bool:
    """Whether a line from :func:`properties_line` leaves something out (lists, objects)."""
    return isinstance(properties, dict) and any(
        isinstance(value, list | dict) and value for value in properties.values()
    )
