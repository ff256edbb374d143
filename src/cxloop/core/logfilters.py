"""Logging filters for the server's console log."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx is the client's mistake or a refusal (403), not a crash: keep Django's one-line
    warning, drop the traceback it attaches (every refused request printed ~20 lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
