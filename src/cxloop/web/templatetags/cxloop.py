"""Small template helpers for the web layer."""

from django import template

from cxloop.web.readable import trait_label

register = template.Library()


@register.filter
def startswith(text: str, prefix: str) -> bool:
    """``{% if request.path|startswith:"/surveys/" %}``: highlight a nav section."""
    return bool(prefix) and str(text).startswith(prefix)


@register.filter
def percent(share: float | None, digits: int = 1) -> str:
    """A share (0..1) as a percentage with ``digits`` decimals: ``0.0523`` → ``5.2 %``."""
    if share is None:
        return "–"
    return f"{share * 100:.{int(digits)}f} %"


@register.filter
def label(key: str) -> str:
    """``{{ "loyalty_tier"|label }}`` → ``Loyalty tier``: a trait name as words."""
    return trait_label(str(key))


@register.filter
def day_span(days) -> str:
    """``{{ previous|day_span }}`` for a (first, last) pair of dates: "3 Oct–1 Nov 2026", each
    year written where the two differ ("29 Nov 2025–31 May 2026"); "" without a pair."""
    if not days or len(days) != 2:
        return ""
    first, last = days
    start = f"{first.day} {first:%b}" + (f" {first.year}" if first.year != last.year else "")
    return f"{start}–{last.day} {last:%b %Y}"
