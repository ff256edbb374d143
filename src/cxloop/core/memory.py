"""Memory management helpers for bulk work."""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # bulk jobs running now (several threads may import at once)
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk job, then collect once.

    Building or unpickling hundreds of thousands of small tuples and lists makes the collector
    rescan every live object over and over (a third of a bulk import's time); reference counting
    still frees everything that is not a cycle. The collector comes back when the last running
    job ends.
    """
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            resume = _paused == 0 and _was_enabled
            if resume:
                gc.enable()
        if resume:
            gc.collect()
