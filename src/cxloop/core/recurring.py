"""Recurring background work on the django-tasks API.

A recurring task re-enqueues itself (``run_after``) at the end of each run, so one enqueue keeps it
going for as long as a worker runs. ``ensure_enqueued`` starts such a chain unless a run is already
waiting, so ``cxloop serve`` can call it at every start without doubling the chain.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone


def enqueue_next(task, *, seconds: int, **kwargs) -> None:
    """Queue the next run of ``task`` ``seconds`` from now."""
    task.using(run_after=timezone.now() + timedelta(seconds=seconds)).enqueue(**kwargs)


def ensure_enqueued(task, **kwargs) -> bool:
    """Enqueue ``task`` unless a run is already queued or running; True when it enqueued one.

    With the database backend the queue is checked; other backends (rq) just enqueue, and a
    duplicate chain only repeats idempotent work.
    """
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        DBTaskResult = None
    if DBTaskResult is not None:
        waiting = DBTaskResult.objects.filter(
            task_path=task.module_path, status__in=("READY", "RUNNING")
        )
        if waiting.exists():
            return False
    task.enqueue(**kwargs)
    return True
