"""Who hears about a completed survey response: apps above feedback (workflow rules) register a
listener in their ``AppConfig.ready()``; ``response_submit`` calls each after its transaction
commits. Feedback never imports them, so the layers stay one-way."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

# (*, workspace_id, response_id) -> None; must be quick (queue the work, do not do it)
ResponseListener = Callable[..., None]
_listeners: dict[str, ResponseListener] = {}


def register_response_listener(app_label: str, listener: ResponseListener) -> None:
    """Register an app's listener (registering again replaces it)."""
    _listeners[app_label] = listener


def response_completed(*, workspace_id: int, response_id: int) -> None:
    """Tell every listener, once the current transaction commits. A failing listener is
    logged and never undoes or fails the response."""
    if not _listeners:
        return

    def tell() -> None:
        for label, listener in list(_listeners.items()):
            try:
                listener(workspace_id=workspace_id, response_id=response_id)
            except Exception:  # a listener's failure must not reach the respondent
                log.exception("response listener %s failed for response %s", label, response_id)

    transaction.on_commit(tell)
