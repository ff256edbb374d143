"""Shared fixtures: workspaces with write keys, users, a logged-in browser."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import testcases

from factories import member_make, workspace_make

pytest_plugins = ["text_model_fixtures"]  # model / no_extra / fresh_text_engine for text tests

CHROMIUM = os.environ.get("CXLOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class OneRequestAtATime(ThreadedWSGIServer):
    """The live server, answering one request at a time when its threads share a connection.

    On SQLite the tests' database lives in memory, and every live-server thread uses the test's
    one connection: two requests at once (a survey's autosave fired by the tap that also sends
    the form) then interleave on it, and the second ``BEGIN`` fails with "cannot start a
    transaction within a transaction". A deployed server gives each thread its own connection,
    so requests only take turns here. Streamed bodies (CSV exports) read the database as they
    go, so they are read inside the turn too.
    """

    turn = threading.Lock()

    def set_app(self, application):
        def after_the_test(environ, start_response):
            """A request that reaches the server once its test has ended (a page still polling
            in a browser context the test left open) finds the database blocked again: answer
            503 without a traceback. Printing one from this thread while pytest formats a
            report in the main thread can trip CPython 3.11's AST recursion check (python/
            cpython#106905: "AST constructor recursion depth mismatch"), an INTERNALERROR
            that ends the whole run."""
            try:
                result = application(environ, start_response)
                try:
                    return [b"".join(result)]  # streamed bodies read the database as they go
                finally:
                    if hasattr(result, "close"):
                        result.close()  # sends request_finished, which closes old connections
            except RuntimeError as error:
                if "Database access not allowed" not in str(error):
                    raise
                headers = [("Content-Type", "text/plain")]
                start_response("503 Service Unavailable", headers, sys.exc_info())
                return [b"the test that served this page has ended"]

        if not self.connections_override:
            return super().set_app(after_the_test)

        def one_at_a_time(environ, start_response):
            with self.turn:
                return after_the_test(environ, start_response)

        return super().set_app(one_at_a_time)


testcases.LiveServerThread.server_class = OneRequestAtATime

# what lets a test reach the tests' database: any other test cannot touch it (pytest-django
# refuses), so it runs the same whichever database DATABASE_URL names
_DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server"}


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests that use the database: the others (pure functions, and
    commands run in subprocesses on their own SQLite home, e.g. tests/test_cli.py) are the
    same tests the SQLite run has passed, and would only repeat it."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        return
    keep, repeats = [], []
    for item in items:
        uses = item.get_closest_marker("django_db") or _DATABASE_FIXTURES & set(item.fixturenames)
        (keep if uses else repeats).append(item)
    if repeats:
        config.hook.pytest_deselected(items=repeats)
        items[:] = keep


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The default PBKDF2 hasher costs ~0.3 s per user; tests do not need that."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def analytics_on_database(settings):
    """Other apps' tests ask the system of record (``CXLOOP_ANALYTICS=sql``); the engine's own
    suite, and the suites marked with ``each_engine``, run on the embedded engine too."""
    settings.CXLOOP_ANALYTICS = "sql"


@pytest.fixture(autouse=True)
def workflow_files_in_tmp(settings, tmp_path):
    """Files uploaded to workflow forms go to the test's own folder, never the checkout's."""
    settings.STORAGES = {
        **settings.STORAGES,
        "workflow_files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "workflow-files", "base_url": None},
        },
    }
    return tmp_path / "workflow-files"


@pytest.fixture(scope="session")
def engine_store(tmp_path_factory):
    """The embedded store of this test process (chdb opens one store per process)."""
    return tmp_path_factory.mktemp("engine")


@pytest.fixture
def chdb_engine(engine_store, settings):
    """The embedded engine on an emptied store."""
    from cxloop.analytics.clickhouse import TABLES
    from cxloop.analytics.engine import ClickHouseEngine
    from cxloop.analytics.transports import ChdbTransport

    engine = ClickHouseEngine(ChdbTransport(engine_store), label="embedded (test)")
    engine.setup()
    for table in TABLES:
        if not table.endswith("_mv"):
            engine.transport.command(f"TRUNCATE TABLE {table}")
    return engine


class _Draining:
    """An engine that first drains the outbox: the tests read their own writes at once."""

    def __init__(self, engine):
        self.engine = engine
        self.kind, self.label = engine.kind, engine.label

    def __getattr__(self, name):
        from cxloop.analytics.services import engine_drain

        attribute = getattr(self.engine, name)
        if not callable(attribute) or name in ("load", "forget_customers", "setup", "drop"):
            return attribute

        def call(*args, **kwargs):
            while engine_drain(engine=self.engine):
                pass
            return attribute(*args, **kwargs)

        return call


CLICKHOUSE_URL = os.environ.get("CXLOOP_TEST_CLICKHOUSE_URL", "")


@pytest.fixture
def server_engine():
    """The engine on a ClickHouse server (CXLOOP_TEST_CLICKHOUSE_URL, a database the tests may
    empty), emptied; ClickHouse 24.3 or later (arrayFold, QUALIFY, lightweight DELETE)."""
    from cxloop.analytics.clickhouse import TABLES
    from cxloop.analytics.engine import ClickHouseEngine
    from cxloop.analytics.transports import ServerTransport

    engine = ClickHouseEngine(ServerTransport(CLICKHOUSE_URL), label="ClickHouse server (test)")
    engine.setup()
    for table in TABLES:
        if not table.endswith("_mv"):
            engine.transport.command(f"TRUNCATE TABLE {table}")
    return engine


@pytest.fixture(params=["sql", "embedded", *(["server"] if CLICKHOUSE_URL else [])])
def each_engine(request, monkeypatch):
    """Runs the test on the system of record and on the embedded engine (and on a ClickHouse
    server when CXLOOP_TEST_CLICKHOUSE_URL names one)."""
    if request.param == "sql":
        return "sql"
    from cxloop.analytics import selectors

    store = "server_engine" if request.param == "server" else "chdb_engine"
    engine = _Draining(request.getfixturevalue(store))
    monkeypatch.setattr(selectors, "current_engine", lambda: engine)
    return engine


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: a write key cached by an earlier test (whose rows
    were rolled back) must not authenticate in the next one."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def workspace(db):
    return workspace_make()


@pytest.fixture
def other_workspace(db):
    return workspace_make(name="Globex", slug="globex")


@pytest.fixture
def write_key(workspace) -> str:
    return workspace.write_keys.get().key


@pytest.fixture
def member(workspace):
    """An analyst of ``workspace`` only (not a superuser); password ``analyst-pass-123``."""
    return member_make(workspace=workspace)


@pytest.fixture
def admin_member(workspace):
    return member_make(workspace=workspace, username="boss", role="admin")


@pytest.fixture(scope="session")
def browser():
    """Real headless Debian Chromium driven by Playwright."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; scripts/test installs it (apt chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in the main thread while the browser
    # lives, and Django then refuses ORM calls there (test data, flushes, later test modules).
    # Nothing else uses that loop, so the ORM is safe to call.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _no_browser_left_open(request):
    """Close every browser context a test left open (one that failed between
    ``browser.new_context()`` and ``context.close()``) once the test's own fixtures are done,
    while its database is still there: set up after pytest-django's autouse fixtures (a plugin's
    come before a conftest's), so torn down before them."""
    browser = request.getfixturevalue("browser") if "browser" in request.fixturenames else None
    yield
    if browser is not None:
        for context in list(browser.contexts):
            context.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page, request):
    """Save a full-page screenshot under test-artifacts/ (to look at, not to assert on), and
    check that state of the page with axe-core: every state a browser test looks at is checked
    for accessibility too."""
    from browser import axe_violations, shot

    def take(name: str) -> Path:
        path = shot(page, request, name)
        problems = axe_violations(page)
        assert not problems, f"axe-core on {name}:\n" + "\n".join(problems)
        return path

    return take
