"""Limits on the public endpoints, shared by the web pages and the REST API: public survey
answers (django-ratelimit) and logins (django-axes' backend, below).

Counting is django-ratelimit's (``get_usage``, in Django's cache), keyed by the client's IP and
the survey's public token, so one busy survey never blocks another and one client never blocks
the rest.
"""

from __future__ import annotations

import hashlib
import hmac

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from cxloop.core.clientip import client_ip

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


def client_fingerprint(request: HttpRequest) -> str:
    """A one-way digest of the client's IP and user agent (nothing personal is kept)."""
    agent = request.headers.get("User-Agent", "")
    raw = f"{client_ip(request)}\0{agent}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), raw, hashlib.sha256).hexdigest()[:40]


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a login while its user name or address is locked out (django-axes).

    Every login over the network (the login page, the admin's) passes the request, and is checked.
    ``authenticate()`` without one comes from code (Django's test client ``login()``, a shell),
    which has no address to count; axes would raise there, so such calls are left to the next
    backend unthrottled.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
