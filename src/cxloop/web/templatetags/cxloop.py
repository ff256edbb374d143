"""Small template helpers for the web layer."""

from django import template

register = template.Library()


@register.filter
def startswith(text: str, prefix: str) -> bool:
    """``{% if request.path|startswith:"/surveys/" %}``: highlight a nav section."""
    return bool(prefix) and str(text).startswith(prefix)
