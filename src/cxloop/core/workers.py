"""Start-up of helper processes."""

import gc


def start_bulk_worker() -> None:
    """Initializer for a process that prepares bulk data (``events.rows.prepare_chunk``).

    Such work is pure Python, so the process loads no Django apps, which keeps its start quick.
    The cyclic collector stays off, as in ``cxloop.core.memory.collector_paused``: the process
    lives only as long as its job.
    """
    gc.disable()
