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
