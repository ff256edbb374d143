"""Answers for failures the views do not handle themselves."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import patch_vary_headers

from cxloop.analytics.selectors import EngineUnavailable

RETRY_SECONDS = 10


class EngineUnavailableMiddleware:
    """A page whose analytics engine cannot be reached (its owner process stopped, the
    ClickHouse server down) says so with a 503 and a retry hint, instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, EngineUnavailable):
            return None
        response = render(
            request, "web/engine_unavailable.html", {"problem": str(exception)}, status=503
        )
        response["Retry-After"] = str(RETRY_SECONDS)
        return response


class AdminLocaleMiddleware:
    """Django's admin in the language and date formats the person's browser asks for (of
    ``settings.LANGUAGES``): its rows span every workspace, so the browser's locale is the one
    that fits. The product's own pages keep their explicit formats and words."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/admin/"):
            return self.get_response(request)
        language = translation.get_language_from_request(request)
        with translation.override(language):
            response = self.get_response(request)
            response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language",))
        return response
