"""scripts/mypy-baseline: reading mypy's summary and holding the count to the baseline."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mypy-baseline"


@pytest.fixture
def baseline():
    loader = importlib.machinery.SourceFileLoader("mypy_baseline", str(SCRIPT))
    spec = importlib.util.spec_from_loader("mypy_baseline", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("output", "count"),
    [
        ("Success: no issues found in 123 source files\n", 0),
        ("a.py:1: error: x  [misc]\nFound 1 error in 1 file (checked 3 source files)\n", 1),
        ("Found 98 errors in 31 files (checked 123 source files)\n", 98),
        ("mypy: can't read file 'src': No such file or directory\n", None),
    ],
)
def test_error_count_reads_the_summary(baseline, output, count):
    assert baseline.error_count(output) == count


def _mypy(count: int, returncode: int = 1):
    summary = f"Found {count} errors in 2 files (checked 9 source files)\n"
    return subprocess.CompletedProcess([], returncode, stdout=summary, stderr="")


@pytest.mark.parametrize(
    ("found", "allowed", "status", "stored"),
    [(5, 5, 0, 5), (6, 5, 1, 5), (4, 5, 0, 5)],
)
def test_more_errors_than_the_baseline_fail(
    baseline, monkeypatch, tmp_path, capsys, found, allowed, status, stored
):
    monkeypatch.setattr(baseline, "BASELINE", tmp_path / "mypy-baseline.txt")
    baseline.BASELINE.write_text(f"{allowed}\n")
    monkeypatch.setattr(baseline.subprocess, "run", lambda *a, **k: _mypy(found))
    monkeypatch.setattr(baseline.sys, "argv", ["mypy-baseline"])

    assert baseline.main() == status
    assert int(baseline.BASELINE.read_text()) == stored
    if found < allowed:
        assert f"lower mypy-baseline.txt to {found}" in capsys.readouterr().out


def test_update_lowers_the_baseline_but_never_raises_it(baseline, monkeypatch, tmp_path):
    monkeypatch.setattr(baseline, "BASELINE", tmp_path / "mypy-baseline.txt")
    baseline.BASELINE.write_text("5\n")
    monkeypatch.setattr(baseline.sys, "argv", ["mypy-baseline", "--update"])

    monkeypatch.setattr(baseline.subprocess, "run", lambda *a, **k: _mypy(3))
    assert baseline.main() == 0
    assert baseline.BASELINE.read_text() == "3\n"
    monkeypatch.setattr(baseline.subprocess, "run", lambda *a, **k: _mypy(4))
    assert baseline.main() == 1
    assert baseline.BASELINE.read_text() == "3\n"


def test_a_crashed_mypy_fails(baseline, monkeypatch, tmp_path):
    monkeypatch.setattr(baseline, "BASELINE", tmp_path / "mypy-baseline.txt")
    baseline.BASELINE.write_text("5\n")
    crashed = subprocess.CompletedProcess([], 2, stdout="", stderr="Traceback ...\n")
    monkeypatch.setattr(baseline.subprocess, "run", lambda *a, **k: crashed)

    assert baseline.main() == 2
