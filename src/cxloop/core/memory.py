"""Memory management helpers for bulk work."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk job, then collect once.

    Building or unpickling hundreds of thousands of small tuples and lists makes the collector
    rescan every live object over and over (a third of a bulk import's time); reference counting
    still frees everything that is not a cycle. Nested uses keep it paused until the outer ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()
