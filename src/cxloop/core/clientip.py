"""The client's address, for login throttling (django-axes) and rate limits (django-ratelimit)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``; behind a proxy (``CXLOOP_BEHIND_PROXY=1``) the last address of
    ``X-Forwarded-For``, the one the proxy itself appended (earlier ones the client can forge)."""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
