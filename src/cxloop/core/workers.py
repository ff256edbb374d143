"""Start-up of helper processes (imports only Django: it runs before the apps are loaded)."""

import gc

import django


def start_bulk_worker() -> None:
    """Initializer for a process that prepares bulk data: load the apps, pause the collector.

    A spawned process knows nothing of the parent; ``django.setup()`` reads the same settings
    (the environment is inherited). The cyclic collector stays off, as in
    ``cxloop.core.memory.collector_paused``: such a process lives only as long as its job.
    """
    django.setup()
    gc.disable()
