"""Login throttling: django-axes' backend, for logins that come with a request."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


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
