"""Recurring background work on the django-tasks API.

A recurring task re-enqueues itself (``run_after``) at the end of each run, so one enqueue keeps it
going for as long as a worker runs. ``ensure_enqueued`` starts such a chain unless a run of it is
already waiting or running, on the database backend and on Redis (rq) alike, so ``cxloop serve``
and ``cxloop worker`` can call it at every start without adding a second chain.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from django.utils import timezone

# A run marked RUNNING for longer than this is taken as lost (its worker was killed): a new chain
# may start. No cycle takes anywhere near this long.
STALE_AFTER = timedelta(hours=6)


def enqueue_next(task, *, seconds: int, **kwargs) -> None:
    """Queue the next run of ``task`` ``seconds`` from now."""
    task.using(run_after=timezone.now() + timedelta(seconds=seconds)).enqueue(**kwargs)


def backend_kind(task=None) -> str:
    """``db``, ``rq`` or ``other`` (immediate, dummy): which queue the task backend uses."""
    if task is not None:
        backend = task.get_backend()
    else:
        from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

        backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    path = f"{type(backend).__module__}.{type(backend).__name__}"
    if path.startswith("django_tasks_db."):
        return "db"
    if path.startswith("django_tasks_rq."):
        return "rq"
    return "other"


def pending_runs(task) -> int:
    """How many runs of ``task`` are queued, scheduled or running right now."""
    kind = backend_kind(task)
    if kind == "db":
        from django.db.models import Q
        from django_tasks_db.models import DBTaskResult

        fresh = Q(status="READY") | Q(
            status="RUNNING", started_at__gte=timezone.now() - STALE_AFTER
        )
        return DBTaskResult.objects.filter(fresh, task_path=task.module_path).count()
    if kind == "rq":
        return sum(1 for job in _rq_jobs(task.queue_name) if job.func_name == task.module_path)
    return 0


def ensure_enqueued(task, **kwargs) -> bool:
    """Enqueue ``task`` unless a run is already queued, scheduled or running; True when it did."""
    with _start_lock(task):
        if pending_runs(task):
            return False
        task.enqueue(**kwargs)
        return True


def _rq_jobs(queue_name: str):
    import django_rq
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry, StartedJobRegistry

    queue = django_rq.get_queue(queue_name)
    ids = set(queue.get_job_ids())
    ids.update(ScheduledJobRegistry(queue=queue).get_job_ids())
    ids.update(StartedJobRegistry(queue=queue).get_job_ids())
    return [job for job in Job.fetch_many(sorted(ids), connection=queue.connection) if job]


@contextmanager
def _start_lock(task):
    """One starter at a time per task: two processes starting together must not both enqueue."""
    kind = backend_kind(task)
    if kind == "rq":
        import django_rq

        lock = django_rq.get_connection(task.queue_name).lock(
            f"cxloop:chain-start:{task.module_path}", timeout=60, blocking_timeout=60
        )
        with lock:
            yield
    elif kind == "db":
        from django.db import transaction

        # SQLite: an IMMEDIATE transaction (settings) takes the write lock at once; PostgreSQL:
        # lock the task's queue rows' table for the check-then-insert.
        with transaction.atomic():
            from django.db import connection

            if connection.vendor == "postgresql":
                from django_tasks_db.models import DBTaskResult

                with connection.cursor() as cursor:
                    cursor.execute(
                        f"LOCK TABLE {DBTaskResult._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"
                    )
            yield
    else:
        yield
