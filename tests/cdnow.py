"""The real CDNOW sample (../shared/data/cdnow), read for validation tests and the benchmark."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

CDNOW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cdnow"
ORIGIN = dt.date(1997, 1, 1)
CALIBRATION_END = (dt.date(1997, 9, 30) - ORIGIN).days  # end of week 39
HOLDOUT_END = (dt.date(1998, 6, 30) - ORIGIN).days  # end of week 78
SKIP_REASON = f"CDNOW data not found at {CDNOW} (see shared/data/README.md)"


def available() -> bool:
    return (CDNOW / "CDNOW_sample.txt").is_file()


def transactions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, day since 1997-01-01, dollar value) for every row of CDNOW_sample.txt."""
    raw = np.loadtxt(CDNOW / "CDNOW_sample.txt")
    ymd = raw[:, 2].astype(int)
    days = np.array(
        [(dt.date(v // 10000, v // 100 % 100, v % 100) - ORIGIN).days for v in ymd], dtype=float
    )
    return raw[:, 1].astype(np.int64), days, raw[:, 4]


def summary() -> dict[str, np.ndarray]:
    """The published calibration summary: frequency, recency, T in weeks."""
    table = np.genfromtxt(CDNOW / "cdnow_customers_summary.csv", delimiter=",", names=True)
    return {name: table[name] for name in table.dtype.names}
