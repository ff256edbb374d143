"""A real database-queue worker is killed (SIGKILL) in the middle of a rule's slow webhook; a new
worker finishes the job. Each action runs once: the webhook is received once, the rule fires
once, the workflow run it starts exists once (idempotent keys: the firing's unique subject,
each action committed with its outcome, the delivery's claimed attempt)."""

from __future__ import annotations

import http.server
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.tasks
ROOT = Path(__file__).resolve().parents[1]


class _SlowReceiver(http.server.BaseHTTPRequestHandler):
    """Notes each webhook, then holds the answer until the test lets go."""

    received: list[tuple[str, bytes]]
    arrived: threading.Event
    release: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Cxloop-Delivery"], body))
        type(self).arrived.set()
        type(self).release.wait(20)
        try:
            self.send_response(200)
            self.end_headers()
        except OSError:  # the worker that asked is dead
            pass

    def log_message(self, *args) -> None:
        pass


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.pop("DATABASE_URL", None)
    env.update(CXLOOP_HOME=str(home), DJANGO_SETTINGS_MODULE="worker_kill_app",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")]))  # fmt: skip
    return env


def _app(home: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "worker_kill_app.py"), *args],
                          env=_env(home), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


def _worker(home: Path, *extra: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "django", "db_worker", "--interval", "0.1", "--no-reload",
            "--no-startup-delay", *extra]  # fmt: skip
    return subprocess.Popen(argv, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _rows(home: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "cxloop.sqlite3") as db:
        return db.execute(sql).fetchall()


def test_a_worker_killed_mid_webhook_leaves_every_action_done_once(tmp_path):
    _SlowReceiver.received, _SlowReceiver.arrived = [], threading.Event()
    _SlowReceiver.release = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # given: a queued reaction to a detractor's response whose rule calls the slow webhook,
        # then starts a workflow
        _app(tmp_path, "setup", f"http://127.0.0.1:{server.server_address[1]}/hook")
        first = _worker(tmp_path)
        try:
            assert _SlowReceiver.arrived.wait(90), "the webhook never arrived"
        finally:
            # when: the worker is killed while the webhook is under way
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        _SlowReceiver.release.set()
        # the firing was claimed and its webhook sent; the workflow was not started yet
        assert _rows(tmp_path, "SELECT status FROM workflows_rulefiring") == [("acting",)]
        assert _rows(tmp_path, "SELECT count(*) FROM workflows_workflowrun") == [(0,)]
        # time passes beyond the firing's lease (what a fixed clock cannot do to another process)
        with sqlite3.connect(tmp_path / "cxloop.sqlite3") as db:
            db.execute("UPDATE workflows_rulefiring SET lease_until = '2000-01-01 00:00:00'")
        # and: the lost reaction is queued again, and a new worker runs it and a cycle
        _app(tmp_path, "requeue")
        second = _worker(tmp_path, "--batch")
        output, _ = second.communicate(timeout=120)
        assert second.returncode == 0, output.decode()[-2000:]
    finally:
        _SlowReceiver.release.set()
        server.shutdown()
        server.server_close()

    # then: one webhook, one firing (finished: both actions done), one run
    assert [delivery for delivery, _ in _SlowReceiver.received] == ["1"]
    firings = _rows(tmp_path, "SELECT status, subject FROM workflows_rulefiring")
    assert firings == [("fired", "response:1")]
    assert _rows(tmp_path, "SELECT count(*), min(source) FROM workflows_workflowrun") == [
        (1, "rule:1")
    ]
    # the delivery's attempt stays claimed until its lease ends: a resend (if ever) carries the
    # same Cxloop-Delivery id, for the receiver to drop
    assert _rows(tmp_path, "SELECT count(*), max(attempts), max(status) FROM "
                           "workflows_webhookdelivery") == [(1, 1, "pending")]  # fmt: skip
