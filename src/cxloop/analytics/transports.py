"""How the engine's SQL reaches ClickHouse: the :class:`Transport` interface and two of its
implementations, :class:`ChdbTransport` (the embedded store, chdb in-process) and
:class:`ServerTransport` (a ClickHouse server over HTTP); ``analytics.owner.OwnerClient`` is the
third. Split from ``analytics.engine``, which imports them from here."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

QUERY_SETTINGS = " SETTINGS output_format_json_quote_64bit_integers = 0"


class EngineUnavailable(RuntimeError):
    """The engine cannot be reached (its owner process is not running, the server is down)."""


class EngineError(RuntimeError):
    """The engine refused a query or a write; the message is the engine's."""


class Transport(Protocol):
    def query(self, sql: str) -> list[list[Any]]: ...
    def query_bytes(self, sql: str, fmt: str) -> bytes: ...
    def command(self, sql: str) -> None: ...
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None: ...


def _rows(payload: bytes) -> list[list[Any]]:
    """The rows of a JSONCompact answer. An answer that is not one JSON document (seen from
    chdb after a query of the same session failed: text after the document) is the engine's
    error, not a crash of whoever asked."""
    if not payload:
        return []
    try:
        return orjson.loads(payload)["data"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise EngineError(f"the engine sent an answer that cannot be read ({exc})") from exc


class ChdbTransport:
    """The embedded store: chdb's MergeTree tables in a folder, opened by one process only
    (chdb allows one store per process, and one process per store)."""

    _lock = threading.Lock()
    _session: Any = None
    _path: Path | None = None

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _open(self) -> Any:
        cls = type(self)
        with cls._lock:
            if cls._session is None or cls._path != self.path:
                if cls._session is not None:
                    cls._session.close()
                from chdb import session  # a 200 MB library: loaded when used

                self.path.mkdir(parents=True, exist_ok=True)
                try:
                    cls._session = session.Session(str(self.path))
                except Exception as exc:  # chdb raises plain RuntimeError subclasses
                    raise EngineUnavailable(f"cannot open the engine store: {exc}") from exc
                cls._path = self.path
            return cls._session

    def query(self, sql: str) -> list[list[Any]]:
        try:
            return _rows(self._open().query(sql + QUERY_SETTINGS, "JSONCompact").bytes())
        except RuntimeError as exc:
            if isinstance(exc, EngineUnavailable):
                raise
            raise EngineError(str(exc)) from exc

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        """The answer in ClickHouse's output format ``fmt`` as it comes (``RowBinary``: fixed-width
        columns read straight into arrays, no text to parse)."""
        try:
            return bytes(self._open().query(sql, fmt).bytes())
        except RuntimeError as exc:
            if isinstance(exc, EngineUnavailable):
                raise
            raise EngineError(str(exc)) from exc

    def command(self, sql: str) -> None:
        try:
            self._open().query(sql)
        except RuntimeError as exc:
            if isinstance(exc, EngineUnavailable):
                raise
            raise EngineError(str(exc)) from exc

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        body = b"\n".join(orjson.dumps(list(row)) for row in rows).decode()
        self.command(
            f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONCompactEachRow\n{body}"
        )

    @classmethod
    def close(cls) -> None:
        with cls._lock:
            if cls._session is not None:
                cls._session.close()
            cls._session, cls._path = None, None


class ServerTransport:
    """A ClickHouse server (or a cluster's entry point) through clickhouse-connect."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            try:
                import clickhouse_connect  # only server installs have it

                self._client = clickhouse_connect.get_client(dsn=self.url)
            except Exception as exc:  # any failure to connect: unavailable
                raise EngineUnavailable(
                    f"cannot reach ClickHouse at {self._safe_url}: {exc}"
                ) from exc
        return self._client

    @property
    def _safe_url(self) -> str:
        return self.url.split("@")[-1]

    def _call(self, fn_name: str, *args: Any, **kwargs: Any) -> Any:
        client = self._connect()
        try:
            return getattr(client, fn_name)(*args, **kwargs)
        except Exception as exc:  # the driver raises many kinds
            raise EngineError(str(exc)) from exc

    def query(self, sql: str) -> list[list[Any]]:
        return _rows(
            self._call(
                "raw_query",
                sql,
                fmt="JSONCompact",
                settings={"output_format_json_quote_64bit_integers": 0},
            )
        )

    def query_bytes(self, sql: str, fmt: str) -> bytes:
        return bytes(self._call("raw_query", sql, fmt=fmt))

    def command(self, sql: str) -> None:
        self._call("command", sql)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        body = b"\n".join(orjson.dumps(list(row)) for row in rows)
        self._call("raw_insert", table, list(columns), insert_block=body, fmt="JSONCompactEachRow")
