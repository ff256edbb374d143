"""Background tasks on both queues: the database backend (embedded) and Redis/rq (production).

The rq cases need Redis (``CXLOOP_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/12``; that
database is emptied). Without it they are skipped, or fail when ``CI`` is set: CI must run them.
``scripts/test`` also runs this file with ``CXLOOP_TASKS=rq``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cxloop.core import recurring
from cxloop.feedback.tasks import ensure_feedback_cycle, feedback_cycle
from cxloop.journeys.tasks import ensure_journeys_cycle, journeys_cycle

pytestmark = pytest.mark.tasks
ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("CXLOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
RQ_BACKEND = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}


def _redis():
    """A clean Redis database for the test, or skip (fail under CI) when there is none."""
    try:
        import redis

        connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        connection.ping()
    except Exception as exc:
        message = f"Redis not reachable at {REDIS_URL} ({exc.__class__.__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the task tests on Redis")
        pytest.skip(message)
    connection.flushdb()
    return connection


@pytest.fixture(params=["db", "rq"])
def backend(request, settings, db):
    """The task backend under test, switched in settings (the rest of the suite keeps its own)."""
    if request.param == "rq":
        connection = _redis()
        settings.RQ_QUEUES = {"default": {"URL": REDIS_URL}}
        settings.TASKS = RQ_BACKEND
        yield request.param
        connection.flushdb()
    else:
        settings.TASKS = DB_BACKEND
        yield request.param


def _queued(kind: str, task) -> int:
    """Runs of ``task`` waiting, read straight from the queue's own storage."""
    if kind == "db":
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.filter(
            task_path=task.module_path, status__in=("READY", "RUNNING")
        ).count()
    import django_rq
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    queue = django_rq.get_queue("default")
    ids = queue.get_job_ids() + ScheduledJobRegistry(queue=queue).get_job_ids()
    jobs = Job.fetch_many(ids, connection=queue.connection)
    return sum(1 for job in jobs if job and job.func_name == task.module_path)


def test_each_chain_is_started_once(backend):
    # when: the server (or a worker) starts three times
    started = [ensure_feedback_cycle() for _ in range(3)] + [ensure_journeys_cycle()]
    # then: one waiting run per recurring job
    assert started == [True, False, False, True]
    assert (_queued(backend, feedback_cycle), _queued(backend, journeys_cycle)) == (1, 1)
    assert recurring.backend_kind(feedback_cycle) == backend


def test_a_run_queues_its_next_run_and_a_restart_adds_none(backend):
    from datetime import timedelta

    from django.utils import timezone

    # given: a run that re-enqueued itself 60 s ahead (what the cycle's `finally` does)
    recurring.enqueue_next(feedback_cycle, seconds=60, repeat=True)
    # when: the server restarts
    assert ensure_feedback_cycle() is False
    # then
    assert _queued(backend, feedback_cycle) == 1
    if backend == "db":
        from django_tasks_db.models import DBTaskResult

        run_after = DBTaskResult.objects.get(task_path=feedback_cycle.module_path).run_after
        assert timezone.now() + timedelta(seconds=50) < run_after
    else:
        import django_rq
        from rq.registry import ScheduledJobRegistry

        registry = ScheduledJobRegistry(queue=django_rq.get_queue("default"))
        assert len(registry.get_job_ids()) == 1


def test_a_lost_running_run_does_not_block_a_new_chain_forever(settings, db):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DB_BACKEND
    feedback_cycle.enqueue(repeat=True)
    # a worker was killed mid-run a day ago: the row stays RUNNING
    DBTaskResult.objects.update(status="RUNNING", started_at=timezone.now() - timedelta(days=1))
    assert ensure_feedback_cycle() is True
    # a run that started a minute ago is alive: no second chain
    DBTaskResult.objects.filter(status="READY").delete()
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(minutes=1))
    assert ensure_feedback_cycle() is False


# ---------------------------------------------------------------- the real worker processes


def _cxloop(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    clean.pop("DATABASE_URL", None)
    clean.pop("REDIS_URL", None)
    clean.update(CXLOOP_HOME=str(home), PYTHONPATH=str(ROOT / "src"), **env)
    return subprocess.run(
        [sys.executable, "-c", "from cxloop.cli import main; main()", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _db_rows(home: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "cxloop.sqlite3") as conn:
        return conn.execute(
            "SELECT task_path, status FROM django_tasks_database_dbtaskresult ORDER BY task_path, status"
        ).fetchall()


def test_worker_runs_the_cycles_on_the_database_queue(tmp_path):
    # when: `cxloop worker --burst` runs twice on a fresh home
    first = _cxloop(tmp_path, "worker", "--burst")
    second = _cxloop(tmp_path, "worker", "--burst")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in first.stderr + second.stderr
    # then: each cycle ran once and queued its next run; the restart added no second chain
    assert _db_rows(tmp_path) == [
        ("cxloop.feedback.tasks.feedback_cycle", "READY"),
        ("cxloop.feedback.tasks.feedback_cycle", "SUCCESSFUL"),
        ("cxloop.journeys.tasks.journeys_cycle", "READY"),
        ("cxloop.journeys.tasks.journeys_cycle", "SUCCESSFUL"),
        ("cxloop.predict.tasks.predictions_cycle", "READY"),
        ("cxloop.predict.tasks.predictions_cycle", "SUCCESSFUL"),
        ("cxloop.segments.tasks.segment_counts_cycle", "READY"),
        ("cxloop.segments.tasks.segment_counts_cycle", "SUCCESSFUL"),
        ("cxloop.workflows.tasks.workflows_cycle", "READY"),
        ("cxloop.workflows.tasks.workflows_cycle", "SUCCESSFUL"),
    ]


def test_worker_runs_the_cycles_on_redis(tmp_path):
    connection = _redis()
    env = {"CXLOOP_TASKS": "rq", "REDIS_URL": REDIS_URL}
    first = _cxloop(tmp_path, "worker", "--burst", **env)
    second = _cxloop(tmp_path, "worker", "--burst", **env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    # then: rq's worker (not the database worker, which exited at once before) ran both cycles
    log = first.stdout + first.stderr
    assert "feedback_cycle(repeat=True)" in log and "journeys_cycle(repeat=True)" in log
    assert "workflows_cycle(repeat=True)" in log
    assert "Successfully completed cxloop.feedback.tasks.feedback_cycle" in log
    assert "is not a database backend" not in log
    # and each queued exactly one next run (scheduled), the second start adding none
    from rq.job import Job

    scheduled = connection.zrange("rq:scheduled:default", 0, -1)
    jobs = Job.fetch_many([i.decode() for i in scheduled], connection=connection)
    assert sorted(job.func_name for job in jobs) == [
        "cxloop.feedback.tasks.feedback_cycle",
        "cxloop.journeys.tasks.journeys_cycle",
        "cxloop.predict.tasks.predictions_cycle",
        "cxloop.segments.tasks.segment_counts_cycle",
        "cxloop.workflows.tasks.workflows_cycle",
    ]
    connection.flushdb()


def test_worker_command_fits_the_backend(settings):
    from cxloop.cli import serving

    settings.TASKS = DB_BACKEND
    assert serving.worker_argv()[3:] == ["db_worker", "--interval", "1"]
    settings.TASKS = RQ_BACKEND
    assert serving.worker_argv(burst=True)[3:] == [
        "rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler", "--burst", "default",
    ]  # fmt: skip
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert serving.worker_argv() is None
