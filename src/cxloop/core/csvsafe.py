"""CSV files the app writes, safe to open in a spreadsheet (no formula injection).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for
a formula by Excel, LibreOffice and Google Sheets: an answer such as ``=HYPERLINK(...)`` would run
when an analyst opens the export. As OWASP's "CSV Injection" page advises, such text is written
with a leading single quote, which spreadsheets show as text. Numbers (int, float, Decimal) are
written as they are: a number cannot carry a formula, so a score of -1 stays a readable number;
the same characters as *text* (a free-text answer "-1") are quoted like any other text.

Every CSV the app writes goes through ``writer`` (or ``cell`` for one value).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, (int, float, Decimal)) or value is None:
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


class SafeWriter:
    """``csv.writer`` whose rows pass through ``cell`` first."""

    def __init__(self, handle: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: Any, **kwargs: Any) -> SafeWriter:
    """A CSV writer (RFC 4180 by default, like ``csv.writer``) that escapes formula cells."""
    return SafeWriter(handle, **kwargs)
