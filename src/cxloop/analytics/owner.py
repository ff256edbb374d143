"""The embedded store's owner: the one process that opens chdb's store, drains the event outbox
into it, and answers the other processes' queries over a local socket.

chdb admits one process per store (a second one gets "Cannot lock file …/status"), and opening
the store takes a few hundred milliseconds, so the store is opened once, here, and web
processes send their SQL to this process (``multiprocessing.connection`` over a Unix socket in
``$CXLOOP_HOME``, mode 0600, every connection authenticated with a key derived from the secret
key). Queries run concurrently, one thread per connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any

from django.conf import settings

from cxloop.analytics.engine import ClickHouseEngine
from cxloop.analytics.transports import ChdbTransport, EngineError, EngineUnavailable

log = logging.getLogger(__name__)
TIMEOUT = 60.0  # seconds a query may take before the caller gives up
_is_owner = False


def store_path() -> Path:
    return Path(settings.CXLOOP_HOME) / "engine"


def socket_path() -> Path:
    """``$CXLOOP_HOME/engine.sock``, or a short path in the temp folder standing for it when
    that is too long for a Unix socket (108 bytes)."""
    path = Path(settings.CXLOOP_HOME) / "engine.sock"
    if len(str(path).encode()) < 100:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"cxloop-engine-{digest}.sock"


def _authkey() -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), b"cxloop analytics engine", "sha256").digest()


def is_owner() -> bool:
    """Whether this process owns the embedded store (it runs :func:`serve`)."""
    return _is_owner


def embedded_engine() -> ClickHouseEngine:
    """The engine on the store itself: only for the owner (and tests and the rebuild command
    when no owner runs)."""
    return ClickHouseEngine(ChdbTransport(store_path()), label="embedded (chdb)")


class OwnerClient:
    """A transport that sends queries to the owner process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or socket_path()

    def call(self, request: tuple) -> Any:
        try:
            connection = Client(str(self.path), family="AF_UNIX", authkey=_authkey())
        except (OSError, EOFError) as exc:
            raise EngineUnavailable(
                "the analytics engine is not running (start it with `cxloop serve` or "
                "`cxloop engine`)"
            ) from exc
        with connection:
            connection.send(request)
            if not connection.poll(TIMEOUT):
                raise EngineUnavailable(f"the analytics engine did not answer in {TIMEOUT:.0f} s")
            try:
                status, payload = connection.recv()
            except EOFError as exc:
                raise EngineUnavailable("the analytics engine stopped while answering") from exc
        if status == "ok":
            return payload
        if status == "unavailable":
            raise EngineUnavailable(payload)
        raise EngineError(payload)

    def query(self, sql: str) -> list[list[Any]]:
        return self.call(("query", sql))

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        return self.call(("query_bytes", sql, fmt))

    def command(self, sql: str) -> None:
        raise EngineError("only the engine's owner process writes to the store")

    def insert(self, *args: Any) -> None:
        raise EngineError("only the engine's owner process writes to the store")


def serve(
    *,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    ready: Callable[[], None] | None = None,
    drain: Callable[[ClickHouseEngine], object] | None = None,
) -> None:
    """Own the store: open it, repair a load cut short, then drain the outbox every
    ``interval`` seconds and answer queries until ``stop`` is set (or the process ends)."""
    global _is_owner
    from cxloop.analytics import services  # here: services import this module

    engine = embedded_engine()
    engine.setup()
    if engine.repair():
        log.warning("analytics engine: dropped the rows of a load cut short; copying them again")
    _is_owner = True
    stop = stop or threading.Event()
    drain = drain or (lambda e: services.engine_drain(engine=e))
    path = socket_path()
    if path.exists():
        path.unlink()
    old_mask = os.umask(0o177)
    try:
        listener = Listener(str(path), family="AF_UNIX", authkey=_authkey())
    finally:
        os.umask(old_mask)
    writing = threading.Lock()  # one writer: the drain rounds and a rebuild take turns

    def drain_loop() -> None:
        failing_since: float | None = None
        last_report = 0.0
        # first, a store made anew beside old data is filled again (here, not before serving:
        # a large history takes longer than a start may wait)
        try:
            with writing:
                copied = services.engine_refill_if_lost(engine=engine)
            if copied is not None:
                log.warning(
                    "analytics engine: its store held no event while the database holds "
                    "some (a new store beside old data): copied all %d again",
                    copied,
                )
        except Exception:  # the drain rounds still run; `cxloop engine rebuild` can redo it
            log.exception("analytics engine: filling a new store from the database failed")
        while not stop.is_set():
            try:
                while not stop.is_set():
                    with writing:
                        if not drain(engine):
                            break
                failing_since = None
            except Exception:  # keep serving; the next round retries
                now = time.monotonic()
                if failing_since is None or now - last_report >= 60:
                    # the first failure with its traceback, then a reminder a minute
                    log.exception("analytics engine: draining the outbox failed; retrying")
                    failing_since = failing_since or now
                    last_report = now
            stop.wait(interval)

    def handle(connection: Any) -> None:
        with connection:
            try:
                request = connection.recv()
            except (EOFError, OSError):
                return
            if request == ("rebuild",):
                with writing:
                    answer = _rebuild(engine)
            else:
                answer = _answer(engine, request)
            connection.send(answer)

    drainer = threading.Thread(target=drain_loop, name="engine-drain", daemon=True)
    drainer.start()
    acceptor_done = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                connection = listener.accept()
            except Exception:  # noqa: BLE001 (a client that failed authentication or left)
                if stop.is_set():
                    break
                continue
            threading.Thread(target=handle, args=(connection,), daemon=True).start()
        acceptor_done.set()

    acceptor = threading.Thread(target=accept_loop, name="engine-accept", daemon=True)
    acceptor.start()
    if ready:
        ready()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stop.set()
        # wake the acceptor with a bare connection (no handshake, so nothing here can wait for
        # an answer), then close
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.settimeout(1)
            wake.connect(str(path))
        acceptor_done.wait(5)
        listener.close()
        drainer.join(timeout=30)
        _is_owner = False
        ChdbTransport.close()


def _rebuild(engine: ClickHouseEngine) -> tuple[str, Any]:
    from cxloop.analytics import services  # here: services import this module

    try:
        return "ok", services.engine_rebuild(engine=engine)
    except EngineError as exc:
        return "error", str(exc)


def _answer(engine: ClickHouseEngine, request: tuple) -> tuple[str, Any]:
    kind = request[0] if isinstance(request, tuple) and request else None
    try:
        if kind == "query":
            return "ok", engine.transport.query(str(request[1]))
        if kind == "query_bytes":
            return "ok", engine.transport.query_bytes(str(request[1]), str(request[2]))
        if kind == "status":
            return "ok", {"events": engine.held_count()}
    except EngineUnavailable as exc:
        return "unavailable", str(exc)
    except EngineError as exc:
        return "error", str(exc)
    except Exception as exc:  # the asker gets an answer; the owner keeps serving
        log.exception("analytics engine: answering %s failed", kind)
        return "error", f"{type(exc).__name__}: {exc}"
    return "error", f"unknown request {kind!r}"


def wait_for_owner(seconds: float) -> bool:
    """Whether an owner answers within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            OwnerClient().call(("status",))
            return True
        except EngineUnavailable:
            time.sleep(0.1)
    return False
