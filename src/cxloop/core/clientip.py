"""The client's address, for login throttling (django-axes), rate limits (django-ratelimit) and
the anonymous-survey fingerprint: one rule everywhere."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "0.0.0.0"  # noqa: S104 (a counting key, not a bind address)


def client_ip(request: HttpRequest) -> str:
    """The client's address.

    Behind a proxy (``CXLOOP_BEHIND_PROXY=1``) the last address of ``X-Forwarded-For``, the one the
    proxy itself appended (earlier ones the client can forge); with ``CXLOOP_CLIENT_IP_HEADER``
    the last address of that header instead (e.g. ``HTTP_X_REAL_IP``); else ``REMOTE_ADDR``. A
    missing or malformed header falls back to ``REMOTE_ADDR``, so it never fails a request; with
    no usable address at all (a Unix socket) every such client shares one count.
    """
    header = getattr(settings, "CXLOOP_CLIENT_IP_HEADER", None)
    if not header and getattr(settings, "BEHIND_PROXY", False):
        header = "HTTP_X_FORWARDED_FOR"
    for raw in (request.META.get(header, "") if header else "", request.META.get("REMOTE_ADDR")):
        candidate = (raw or "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return UNKNOWN
