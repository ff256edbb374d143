"""Every ``cxloop`` command on a fresh CXLOOP_HOME and with bad arguments, as a user runs it.

Each command is a real process: on a fresh home (the ``fresh_home`` tests; the others start
from a copy of a set-up one) it must set the database up itself; it must refuse bad input before
writing anything, and say what is wrong in one line (no traceback).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cx(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    for name in ("DATABASE_URL", "REDIS_URL"):
        clean.pop(name, None)
    clean.update(CXLOOP_HOME=str(home), PYTHONPATH=str(ROOT / "src"), COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-c", "from cxloop.cli import main; main()", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(home: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(home / "cxloop.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def one_line_error(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="session")
def set_up_home(tmp_path_factory) -> Path:
    """A home whose database ``cxloop migrate`` has set up, made once (~4 s a home)."""
    home = tmp_path_factory.mktemp("set-up") / "home"
    result = cx(home, "migrate")
    assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def home(request, tmp_path) -> Path:
    """The test's CXLOOP_HOME: empty for the tests marked ``fresh_home`` (a first run sets the
    database up itself), else a copy of :func:`set_up_home`, for a test of one command."""
    home = tmp_path / "home"
    if request.node.get_closest_marker("fresh_home") is None:
        shutil.copytree(request.getfixturevalue("set_up_home"), home)
    return home


@pytest.mark.fresh_home
def test_workspace_list_on_a_fresh_home_sets_the_database_up(home):
    result = cx(home, "workspace", "list")
    assert result.returncode == 0, result.stderr
    assert f"Creating the database {home / 'cxloop.sqlite3'}" in result.stdout
    assert "No workspaces yet" in result.stdout
    assert rows(home, "SELECT count(*) FROM core_workspace") == [(0,)]


@pytest.mark.fresh_home
def test_workspace_create_on_a_fresh_home_and_list(home):
    created = cx(home, "workspace", "create", "Acme Retail", "--write-key", "acme-key-123")
    assert created.returncode == 0, created.stderr
    assert "Workspace acme-retail, write key acme-key-123" in created.stdout
    listed = cx(home, "workspace", "list")
    assert "acme-retail" in listed.stdout and "acme-key-123" in listed.stdout
    assert rows(home, "SELECT slug, name, default_phone_region FROM core_workspace") == [
        ("acme-retail", "Acme Retail", "US")
    ]


@pytest.mark.fresh_home
def test_createadmin_on_a_fresh_home(home):
    result = cx(home, "createadmin", "--username", "root", "--password", "long-enough-4821")
    assert result.returncode == 0, result.stderr
    assert "Admin login: root / long-enough-4821" in result.stdout
    assert rows(home, "SELECT username, is_superuser FROM auth_user") == [("root", 1)]


def test_duplicate_name_slug_and_write_key_are_refused_and_nothing_is_written(home):
    cx(home, "workspace", "create", "Acme", "--write-key", "taken-key-1")
    one_line_error(cx(home, "workspace", "create", "Acme"), 2, "name:", "'acme' already exists")
    one_line_error(
        cx(home, "workspace", "create", "Other", "--slug", "acme"), 2, "slug:", "already exists"
    )
    one_line_error(
        cx(home, "workspace", "create", "Other", "--write-key", "taken-key-1"),
        2,
        "write-key:",
        "already in use",
    )
    # the duplicate key did not leave a workspace behind
    assert rows(home, "SELECT slug FROM core_workspace") == [("acme",)]
    assert rows(home, "SELECT count(*) FROM core_writekey") == [(1,)]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--slug", "Bad Slug!"], ["slug:", "valid"]),
        (["--write-key", "has space"], ["write-key:"]),
        (["--write-key", "a:b-colon-key"], ["write-key:"]),
        (["--phone-region", "ZZ"], ["phone-region:", "ZZ"]),
    ],
)
def test_bad_workspace_input_is_refused(home, args, words):
    one_line_error(cx(home, "workspace", "create", "Acme", *args), 2, *words)
    assert rows(home, "SELECT count(*) FROM core_workspace") == [(0,)]


def test_short_password_and_unknown_workspace_create_no_user(home):
    one_line_error(
        cx(home, "createadmin", "--username", "root", "--password", "short"),
        2,
        "password:",
        "too short",
    )
    one_line_error(
        cx(home, "createadmin", "--username", "root", "--workspace", "nosuch"),
        2,
        "--workspace",
        "nosuch",
    )
    one_line_error(cx(home, "createadmin", "--username", "bad name!"), 2, "username:")
    assert rows(home, "SELECT count(*) FROM auth_user") == [(0,)]


def test_createadmin_for_a_workspace_makes_them_its_admin(home):
    cx(home, "workspace", "create", "Acme")
    cx(home, "workspace", "create", "Globex")
    result = cx(home, "createadmin", "--username", "ana", "--workspace", "globex")
    assert result.returncode == 0, result.stderr
    assert rows(
        home,
        "SELECT w.slug, m.role FROM core_membership m JOIN core_workspace w ON w.id = m.workspace_id",
    ) == [("globex", "admin")]
    # again: the password is reset, and it says so
    again = cx(home, "createadmin", "--username", "ana", "--password", "brand-new-pass-77")
    assert "existed: their password is now the one below" in again.stdout


def test_migrate_says_which_database(home):
    result = cx(home, "migrate")
    assert result.returncode == 0, result.stderr
    assert f"Database: {home / 'cxloop.sqlite3'}" in result.stdout
    assert "Database is up to date." in result.stdout


@pytest.mark.fresh_home
def test_import_commands_on_a_fresh_home_and_bad_arguments(home, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("user_id,email,name\nu1,ann@example.com,Ann\n")
    one_line_error(cx(home, "import", "customers", str(people)), 2, "no workspace yet")
    one_line_error(cx(home, "import", "people", str(people)), 2, "KIND")
    one_line_error(cx(home, "import", "customers", str(tmp_path / "missing.csv")), 2, "missing.csv")
    cx(home, "workspace", "create", "Acme")
    done = cx(home, "import", "customers", str(people))
    assert done.returncode == 0, done.stderr
    assert "1 stored" in done.stdout
    cx(home, "workspace", "create", "Globex")
    one_line_error(cx(home, "import", "customers", str(people)), 2, "several workspaces")


@pytest.mark.fresh_home
def test_feedback_commands_on_a_fresh_home_and_bad_arguments(home, tmp_path):
    sent = cx(home, "feedback", "send")
    assert sent.returncode == 0, sent.stderr
    assert "0 invitations scheduled" in sent.stdout
    one_line_error(cx(home, "feedback", "send", "--workspace", "nosuch"), 2, "nosuch")
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("rating,text,source,date\n5,Great,google,2024-05-01\n")
    one_line_error(cx(home, "feedback", "import-reviews", str(reviews)), 2, "no workspace yet")
    cx(home, "workspace", "create", "Acme")
    done = cx(home, "feedback", "import-reviews", str(reviews))
    assert done.returncode == 0, done.stderr
    assert "1 imported" in done.stdout


def test_rollups_rebuild_recounts_scores_and_maps(home, tmp_path):
    one_line_error(cx(home, "rollups", "rebuild", "--workspace", "nosuch"), 2, "nosuch")
    cx(home, "workspace", "create", "Acme")
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("rating,text,source,date\n5,Great,google,2024-05-01\n")
    assert cx(home, "feedback", "import-reviews", str(reviews)).returncode == 0
    with sqlite3.connect(home / "cxloop.sqlite3") as conn:
        conn.execute("DELETE FROM feedback_scoreday")  # a lost rollup
    done = cx(home, "rollups", "rebuild")
    assert done.returncode == 0, done.stderr
    assert "Survey scores: 1 daily rows recounted" in done.stdout
    assert "Journeys: 0 maps recomputed" in done.stdout
    assert "Segments: 0 counted" in done.stdout
    assert rows(home, "SELECT metric, day, n, satisfied, total FROM feedback_scoreday") == [
        ("csat", "2024-05-01", 1, 1, 5)
    ]


def test_usage_mistakes_are_one_line(home):
    one_line_error(cx(home, "workspace", "create"), 2, "Missing argument")
    one_line_error(cx(home, "migrate", "--bogus"), 2, "No such option: --bogus")
    one_line_error(cx(home, "demo", "--customers", "0", "--no-serve"), 2, "--customers")


def test_worker_with_inline_tasks_says_none_is_needed(home):
    result = cx(home, "worker", CXLOOP_TASKS="immediate")
    assert result.returncode == 0, result.stderr
    assert "no worker needed" in result.stdout


def test_bad_configuration_is_one_line(home):
    one_line_error(cx(home, "workspace", "list", CXLOOP_TASKS="celery"), 1, "CXLOOP_TASKS")
    one_line_error(cx(home, "workspace", "list", CXLOOP_SECRET_KEY=""), 1, "CXLOOP_SECRET_KEY")


@pytest.mark.fresh_home
def test_demo_keeps_the_admin_password_on_a_second_run(home):
    first = cx(home, "demo", "--customers", "30", "--no-serve")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Starting the cxloop demo")
    [line] = [line for line in first.stdout.splitlines() if line.startswith("Admin login")]
    password = line.split(" / ")[1].split()[0]
    saved = home / "demo-admin.txt"
    assert saved.read_text().strip() == password
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    second = cx(home, "demo", "--customers", "30", "--no-serve")
    assert "Demo workspace already exists; keeping it." in second.stdout
    assert f"Admin login (unchanged): admin / {password}" in second.stdout
    # the password still works
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.contrib.auth import get_user_model; "
            f"print(get_user_model().objects.get(username='admin').check_password({password!r}))",
        ],
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith("CXLOOP_") and k not in ("DATABASE_URL", "REDIS_URL")
            },
            "CXLOOP_HOME": str(home),
            "PYTHONPATH": str(ROOT / "src"),
            "DJANGO_SETTINGS_MODULE": "cxloop.settings",
        },
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "True", check.stderr


def engine_owner_of(parent: int) -> int | None:
    """The pid of the `cxloop engine serve` child of ``parent`` (None: there is none)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        state = stat.rsplit(")", 1)[1].split()[0]
        if ppid == parent and state != "Z" and command[-3:-1] == [b"engine", b"serve"]:
            return int(entry.name)
    return None


@pytest.mark.fresh_home
def test_serve_on_a_fresh_home_answers_and_stops_with_its_worker(home):
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.pop("DATABASE_URL", None)
    env.update(CXLOOP_HOME=str(home), PYTHONPATH=str(ROOT / "src"))
    server = subprocess.Popen(
        [sys.executable, "-c", "from cxloop.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as reply:
                    status = reply.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
        # the analytics engine's owner runs beside it; killed, it is started again
        first = engine_owner_of(server.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 40
        second = None
        while time.monotonic() < deadline and second in (None, first):
            time.sleep(0.5)
            second = engine_owner_of(server.pid)
        assert second not in (None, first)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert f"Database: {home / 'cxloop.sqlite3'}" in output
    assert "Traceback" not in output
    assert "The analytics engine stopped (exit code -9); restarting it." in output
    assert engine_owner_of(server.pid) is None  # stopped with the server
    # the database worker ran the recurring cycles, and each queued its next run
    assert rows(
        home,
        "SELECT task_path, count(*) FROM django_tasks_database_dbtaskresult "
        "WHERE status = 'READY' GROUP BY task_path ORDER BY task_path",
    ) in (
        [
            ("cxloop.feedback.tasks.feedback_cycle", 1),
            ("cxloop.journeys.tasks.journeys_cycle", 1),
            ("cxloop.predict.tasks.predictions_cycle", 1),
            ("cxloop.segments.tasks.segment_counts_cycle", 1),
            ("cxloop.workflows.tasks.workflows_cycle", 1),
        ],
    )


def test_serve_with_a_bad_port_is_one_line(home):
    one_line_error(cx(home, "serve", "--port", "eighty"), 2, "--port")


def test_messages_show_brackets_as_typed(home, tmp_path):
    """Output goes through rich: text from the user must not be read as markup."""
    result = cx(home, "createadmin", "--username", "x1", "--password", "[bold]lo[/b]ng-pass-991")
    assert "Admin login: x1 / [bold]lo[/b]ng-pass-991" in result.stdout
    one_line_error(cx(home, "import", "events", str(tmp_path / "[x].csv")), 2, "[x].csv")


def test_serve_behind_a_tls_proxy_keeps_forwarded_headers(home):
    """Real waitress, not the test client: by default waitress deletes X-Forwarded-*, so with
    CXLOOP_HTTPS=1 every request the proxy marked https was redirected again (and events lost)."""
    import base64
    import socket
    import time
    import urllib.error
    import urllib.request

    created = cx(home, "workspace", "create", "Prod", "--write-key", "prodkey1234567890")
    assert created.returncode == 0, created.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CXLOOP_HOME=str(home), PYTHONPATH=str(ROOT / "src"), CXLOOP_HTTPS="1",
        CXLOOP_BEHIND_PROXY="1",
    )  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-c", "from cxloop.cli import main; main()", "serve", "--no-worker",
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    body = b'{"batch": [{"type": "track", "userId": "u1", "event": "Paid"}]}'
    auth = "Basic " + base64.b64encode(b"prodkey1234567890:").decode()
    headers = {"Content-Type": "application/json", "Authorization": auth,
               "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}  # fmt: skip

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        deadline, reply = time.monotonic() + 60, None
        while time.monotonic() < deadline and reply is None:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/batch", data=body, headers=headers
            )
            try:
                reply = opener.open(request, timeout=2)
            except urllib.error.HTTPError as exc:
                reply = exc  # a 301 would land here
            except OSError:
                time.sleep(0.3)
        assert reply is not None
        assert reply.status == 200, reply.status
        assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
        # without the proxy's header the same request is sent to HTTPS, as CXLOOP_HTTPS asks
        plain = {k: v for k, v in headers.items() if k != "X-Forwarded-Proto"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/batch", data=body, headers=plain
        )
        with pytest.raises(urllib.error.HTTPError) as redirected:
            opener.open(request, timeout=5)
        assert redirected.value.status == 301
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert rows(home, "SELECT name FROM events_event") == [("Paid",)]


def test_text_analyse_and_themes_on_imported_reviews(home, tmp_path):
    # given: reviews imported from a file (the worker is not running, so nothing analysed yet)
    cx(home, "workspace", "create", "Acme")
    reviews = tmp_path / "reviews.csv"
    lines = [f"1,Delivery late again and the parcel damaged {i},google,2024-05-0{i % 9 + 1}"
             for i in range(8)]  # fmt: skip
    lines += [f"5,Lovely staff and great service {i},google,2024-05-0{i % 9 + 1}" for i in range(8)]
    reviews.write_text("rating,text,source,date\n" + "\n".join(lines) + "\n")
    assert cx(home, "feedback", "import-reviews", str(reviews)).returncode == 0
    # when
    analysed = cx(home, "text", "analyse", "--workspace", "acme")
    themes = cx(home, "text", "themes", "--workspace", "acme", "--count", "2")
    # then
    assert analysed.returncode == 0, analysed.stderr
    assert "16 texts analysed in workspace acme" in analysed.stdout
    assert rows(home, "SELECT label, count(*) FROM text_textanalysis GROUP BY label") == [
        ("negative", 8),
        ("positive", 8),
    ]
    assert themes.returncode == 0, themes.stderr
    assert rows(home, "SELECT count(*) FROM text_theme") == [(2,)]
    one_line_error(cx(home, "text", "analyse", "--workspace", "nosuch"), 2, "nosuch")


def test_text_embed_fills_the_cache_for_history(home, tmp_path):
    pytest.importorskip(
        "sentence_transformers", reason="the optional extra `embeddings` is not installed"
    )
    # given: texts analysed with embeddings switched off (history from before the extra)
    cx(home, "workspace", "create", "Acme")
    reviews = tmp_path / "reviews.csv"
    lines = [f"1,The parcel came late {i},google,2024-05-01" for i in range(3)]
    lines += ["5,Lovely staff,google,2024-05-02", "5,Lovely staff,google,2024-05-03"]
    reviews.write_text("rating,text,source,date\n" + "\n".join(lines) + "\n")
    assert cx(home, "feedback", "import-reviews", str(reviews)).returncode == 0
    lsa = cx(home, "text", "analyse", "--workspace", "acme", CXLOOP_TEXT_EMBEDDINGS="lsa")
    assert lsa.returncode == 0, lsa.stderr
    assert rows(home, "SELECT count(*) FROM text_embedding") == [(0,)]
    off = cx(home, "text", "embed", "--workspace", "acme", CXLOOP_TEXT_EMBEDDINGS="lsa")
    assert off.returncode == 0 and "LSA fallback" in off.stdout, off.stderr
    # when: history is embedded
    embedded = cx(home, "text", "embed", "--workspace", "acme")
    again = cx(home, "text", "embed", "--workspace", "acme")
    # then: four distinct texts, one vector each (384 float32 = 1,536 bytes); none twice
    assert embedded.returncode == 0, embedded.stderr
    assert "4 texts embedded in workspace acme" in embedded.stdout
    assert rows(home, "SELECT count(*), min(length(vector)) FROM text_embedding") == [(4, 1536)]
    assert "0 texts embedded" in again.stdout


def test_text_labels_and_tune_from_the_shell(home, tmp_path):
    # given: a workspace and a file of labelled texts with one bad line
    cx(home, "workspace", "create", "Acme")
    labelled = tmp_path / "labels.csv"
    lines = [f"Thanks a lot for losing my bag number {i},negative" for i in range(12)]
    lines += [f"My booking reference is {i},neutral" for i in range(12)]
    lines += ["Lovely,so-so"]
    labelled.write_text("text,label\n" + "\n".join(lines) + "\n")
    # when
    stored = cx(home, "text", "labels", str(labelled), "--workspace", "acme")
    tuned = cx(home, "text", "tune", "--workspace", "acme", CXLOOP_TEXT_EMBEDDINGS="lsa")
    # then: the good lines kept, the bad one named; training refused with the reason
    assert stored.returncode == 0, stored.stderr
    assert "24 labelled texts saved" in stored.stdout and "1 line refused" in stored.stdout
    assert "line 26: label 'so-so' is not negative, neutral or positive" in stored.stdout
    assert rows(home, "SELECT label, count(*) FROM text_sentimentlabel GROUP BY label") == [
        ("negative", 12), ("neutral", 12),
    ]  # fmt: skip
    one_line_error(tuned, 1, "24 labelled texts: at least 60 are needed to learn from")
    missing = cx(home, "text", "labels", str(tmp_path / "none.csv"), "--workspace", "acme")
    assert missing.returncode == 2
    os.mkfifo(tmp_path / "pipe.csv")  # nothing writes to it: reading would wait for ever
    piped = cx(home, "text", "labels", str(tmp_path / "pipe.csv"), "--workspace", "acme")
    one_line_error(piped, 2, "not a regular file")


def test_a_command_starts_without_the_heavy_libraries(set_up_home):
    """Every command (and each worker process) sets Django up with every app's tasks and
    handlers; the model and statistics libraries load only when a command uses them, so that
    ``cxloop workspace list`` does not pay about a second and a half for scikit-learn."""
    probe = (
        "import sys; sys.argv = ['cxloop', 'workspace', 'list'];"
        "from cxloop.cli import main\n"
        "try:\n main()\n"
        "except SystemExit:\n pass\n"
        "heavy = ('sklearn', 'scipy', 'pandas', 'torch', 'sentence_transformers', 'statsmodels')\n"
        "print('loaded:', sorted(m for m in heavy if m in sys.modules))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    clean.pop("DATABASE_URL", None)
    clean.update(CXLOOP_HOME=str(set_up_home), PYTHONPATH=str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-c", probe], env=clean, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "No workspaces yet" in result.stdout
    assert "loaded: []" in result.stdout, result.stdout
