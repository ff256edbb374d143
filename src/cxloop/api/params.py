"""Bounded parameters shared by the REST routes: every number has a range in the schema."""

from __future__ import annotations

from typing import Any

from ninja import Path, Query

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000
MAX_ID = 2**63 - 1  # the largest primary key the databases store


def limit_param(default: int, *, most: int = MAX_LIMIT) -> Any:
    return Query(default, ge=1, le=most, description=f"Page size, 1–{most}")


def offset_param() -> Any:
    return Query(0, ge=0, le=MAX_OFFSET, description=f"Items to skip, 0–{MAX_OFFSET}")


def id_param() -> Any:
    return Path(..., ge=1, le=MAX_ID)
