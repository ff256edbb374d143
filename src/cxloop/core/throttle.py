"""Limits on the public endpoints (no login), shared by the web pages and the REST API.

Counting is django-ratelimit's (``get_usage``, in Django's cache), keyed by the client's IP and
the survey's public token, so one busy survey never blocks another and one client never blocks
the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

SUBMIT = "submit"
SAVE = "save"


def survey_limited(request: HttpRequest, *, token: str, action: str = SUBMIT) -> int | None:
    """Count this request; the seconds to wait when the client is over the limit, else None.

    ``action`` is SUBMIT (answer page and public API: ``CXLOOP_SURVEY_RATE``) or SAVE (the
    page's autosave: ``CXLOOP_SURVEY_SAVE_RATE``).
    """
    rate = settings.CXLOOP_SURVEY_RATE if action == SUBMIT else settings.CXLOOP_SURVEY_SAVE_RATE
    usage = get_usage(
        request, group=f"cxloop.survey-{action}:{token}", key="ip", rate=rate, increment=True
    )
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


def client_ip(request: HttpRequest) -> str:
    """The client's address: the last one in the header ``CXLOOP_CLIENT_IP_HEADER`` names (what
    the nearest proxy wrote; earlier ones are the client's own claim), else REMOTE_ADDR.

    django-ratelimit reads addresses through this function (RATELIMIT_IP_META_KEY), so a missing
    or malformed header never fails a request.
    """
    header = getattr(settings, "CXLOOP_CLIENT_IP_HEADER", None)
    for raw in (request.META.get(header, "") if header else "", request.META.get("REMOTE_ADDR")):
        candidate = (raw or "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return "0.0.0.0"  # noqa: S104 (a rate-limit key, not a bind). No usable address (a Unix socket without the header): one shared count


def client_fingerprint(request: HttpRequest) -> str:
    """A one-way digest of the client's IP and user agent (nothing personal is kept)."""
    agent = request.headers.get("User-Agent", "")
    raw = f"{client_ip(request)}\0{agent}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), raw, hashlib.sha256).hexdigest()[:40]
