"""Production safety: login throttling, the secret key, a TLS proxy in front, HSTS and CSP."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cxloop import settings as cx_settings
from cxloop.core import services as core_services

ROOT = Path(__file__).resolve().parents[1]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CXLOOP_HOME=str(home),
        DJANGO_SETTINGS_MODULE="cxloop.settings",
        PYTHONPATH=str(ROOT / "src"),
        **extra,
    )
    return env


def _settings_in_child(home: Path, names: list[str], **extra: str) -> dict:
    """The settings a fresh process gets from these environment variables."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: repr(getattr(s, n, None)) for n in {names!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(home, **extra), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- login throttling (django-axes)


def _login(client, username, password, ip="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def ana(db):
    return core_services.user_create_or_reset(username="ana", password="right-pass-123")


def test_user_name_is_locked_after_five_failures_even_with_the_right_password(client, ana):
    for attempt in range(4):
        assert _login(client, "ana", f"wrong-{attempt}").status_code == 200  # form again
    assert _login(client, "ana", "wrong-4").status_code == 429  # the fifth locks
    # then: the right password from another address is refused with a clear page
    response = _login(client, "ana", "right-pass-123", ip="10.9.9.9")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins" in body
    assert "after 5 wrong passwords" in body and "Try again in 15 minutes" in body
    assert "_auth_user_id" not in client.session


def test_address_is_locked_after_five_failures_on_any_user_names(client, ana):
    for attempt in range(5):
        _login(client, f"guess-{attempt}", "whatever", ip="10.0.0.7")
    assert _login(client, "ana", "right-pass-123", ip="10.0.0.7").status_code == 429
    # another address is not affected, and ana's own count is at zero
    response = _login(client, "ana", "right-pass-123", ip="10.0.0.8")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ana.pk)


def test_four_failures_then_success_resets_the_count(client, ana):
    for attempt in range(4):
        _login(client, "ana", f"wrong-{attempt}")
    assert _login(client, "ana", "right-pass-123").status_code == 302
    client.logout()
    for attempt in range(4):
        _login(client, "ana", f"wrong-again-{attempt}")
    assert _login(client, "ana", "right-pass-123").status_code == 302


def test_lock_ends_after_the_cool_off(client, ana):
    from axes.models import AccessAttempt
    from django.utils import timezone

    for attempt in range(5):
        _login(client, "ana", f"wrong-{attempt}")
    assert _login(client, "ana", "right-pass-123").status_code == 429
    # when: 16 minutes pass (cool-off 15)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timezone.timedelta(minutes=16))
    assert _login(client, "ana", "right-pass-123").status_code == 302


def test_behind_a_proxy_the_forwarded_address_is_the_one_locked(client, ana, settings):
    settings.BEHIND_PROXY = True
    for attempt in range(5):
        client.post(
            "/login/",
            {"username": f"guess-{attempt}", "password": "x"},
            REMOTE_ADDR="172.16.0.1",  # the proxy
            HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5",  # first hop forged, last added by proxy
        )
    other_client = client.post(
        "/login/",
        {"username": "ana", "password": "right-pass-123"},
        REMOTE_ADDR="172.16.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert other_client.status_code == 302  # the proxy's own address is not locked
    client.logout()
    locked = client.post(
        "/login/",
        {"username": "ana", "password": "right-pass-123"},
        REMOTE_ADDR="172.16.0.1",
        HTTP_X_FORWARDED_FOR="7.7.7.7, 203.0.113.5",
    )
    assert locked.status_code == 429


def test_throttle_settings_come_from_the_environment(tmp_path):
    got = _settings_in_child(
        tmp_path,
        ["AXES_FAILURE_LIMIT", "AXES_COOLOFF_TIME", "AXES_LOCKOUT_PARAMETERS"],
        CXLOOP_LOGIN_FAILURES="3",
        CXLOOP_LOGIN_COOLOFF_MINUTES="60",
    )
    assert got == {
        "AXES_FAILURE_LIMIT": "3",
        "AXES_COOLOFF_TIME": "datetime.timedelta(seconds=3600)",
        "AXES_LOCKOUT_PARAMETERS": "['username', 'ip_address']",
    }


# ---------------------------------------------------------------- secret key


def test_secret_key_is_made_once_kept_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("CXLOOP_SECRET_KEY", raising=False)
    first = cx_settings.secret_key(tmp_path / "home")
    path = tmp_path / "home" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50 and len(set(first)) >= 5
    assert cx_settings.secret_key(tmp_path / "home") == first
    assert cx_settings.secret_key(tmp_path / "other") != first


def test_empty_secret_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CXLOOP_SECRET_KEY", "  ")
    with pytest.raises(ImproperlyConfigured, match="CXLOOP_SECRET_KEY is set but empty"):
        cx_settings.secret_key(tmp_path)
    monkeypatch.delenv("CXLOOP_SECRET_KEY")
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(ImproperlyConfigured, match="is empty"):
        cx_settings.secret_key(tmp_path)


def test_server_refuses_to_start_with_an_empty_key(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        env=_env(tmp_path, CXLOOP_SECRET_KEY=""),
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "CXLOOP_SECRET_KEY is set but empty" in out.stderr


def test_check_deploy_has_nothing_to_say_about_the_key(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy"],
        env=_env(tmp_path, CXLOOP_HTTPS="1"),
        capture_output=True,
        text=True,
    )
    assert "SECRET_KEY" not in out.stdout + out.stderr
    assert "security.W009" not in out.stdout + out.stderr
    # HTTPS mode: only the two opt-in HSTS extras (subdomains, preload) remain
    assert "W004" not in out.stderr and "W008" not in out.stderr and "W012" not in out.stderr


# ---------------------------------------------------------------- TLS proxy, HSTS, CSP


@pytest.fixture
def https_behind_proxy(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000


def _batch(client, write_key, **headers):
    body = {"batch": [{"type": "track", "userId": "u1", "event": "Signed Up"}]}
    auth = base64.b64encode(f"{write_key}:".encode()).decode()
    return client.post(
        "/v1/batch",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
        **headers,
    )


def test_tracking_behind_a_tls_proxy_is_accepted_not_redirected(
    client, write_key, https_behind_proxy
):
    response = _batch(client, write_key, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200, response.content
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    # a plain-HTTP request (no proxy header) is still sent to HTTPS
    assert _batch(client, write_key).status_code == 301
    page = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page.status_code == 200


def test_proxy_and_https_settings_come_from_the_environment(tmp_path):
    names = [
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "BEHIND_PROXY",
    ]
    plain = _settings_in_child(tmp_path, names)
    assert plain == {
        "SECURE_PROXY_SSL_HEADER": "None",
        "SECURE_SSL_REDIRECT": "False",
        "SECURE_HSTS_SECONDS": "0",
        "SESSION_COOKIE_SECURE": "False",
        "BEHIND_PROXY": "False",
    }
    proxied = _settings_in_child(tmp_path, names, CXLOOP_HTTPS="1", CXLOOP_BEHIND_PROXY="1")
    assert proxied == {
        "SECURE_PROXY_SSL_HEADER": "('HTTP_X_FORWARDED_PROTO', 'https')",
        "SECURE_SSL_REDIRECT": "True",
        "SECURE_HSTS_SECONDS": "31536000",
        "SESSION_COOKIE_SECURE": "True",
        "BEHIND_PROXY": "True",
    }


def test_pages_carry_a_content_security_policy(client, db):
    policy = client.get("/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "frame-ancestors" not in directives  # X-Frame-Options decides (public survey embed)


def test_no_inline_handlers_or_scripts_in_templates():
    """The policy refuses inline script: a template with one would break silently in browsers."""
    import re

    templates = ROOT / "src" / "cxloop" / "web" / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        if "email" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"\son[a-z]+=\"", text) or re.search(r"<script>(?!\s*</script>)", text):
            offenders.append(path.name)
    assert offenders == []


# ---------------------------------------------------------------- where the data lives


def test_default_home_is_the_checkout_not_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cx_settings.default_home() == ROOT / ".cxloop"


def test_default_home_outside_a_checkout_is_the_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(cx_settings, "BASE_DIR", tmp_path / "site-packages" / "cxloop")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cx_settings.default_home() == tmp_path / "data" / "cxloop"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert cx_settings.default_home() == Path.home() / ".local" / "share" / "cxloop"


def test_readme_configuration_table_lists_exactly_the_variables_settings_read():
    import re

    code = (ROOT / "src" / "cxloop" / "settings.py").read_text()
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    read = set(re.findall(r"\"(CXLOOP_[A-Z_]+|DATABASE_URL|REDIS_URL)\"", code))
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, flags=re.MULTILINE))
    assert documented == read
    # and the one default the issue found out of step
    row = next(line for line in table.splitlines() if line.startswith("| `CXLOOP_ALLOWED_HOSTS`"))
    default = re.search(r'"CXLOOP_ALLOWED_HOSTS", "([^"]+)"', code).group(1)
    assert f"`{default}`" in row


def test_test_client_login_still_works_with_throttling_on(client, ana):
    """Code that logs in without a request (the test client) is not broken by django-axes."""
    assert client.login(username="ana", password="wrong") is False
    assert client.login(username="ana", password="right-pass-123") is True
    assert client.session["_auth_user_id"] == str(ana.pk)


def test_a_refused_request_logs_one_line_without_a_traceback(client, workspace, caplog):
    """A 403 is a refusal, not a crash: the console gets Django's warning, no traceback."""
    from cxloop.core import services as core_services

    viewer = core_services.user_create_or_reset(username="vera", password="vera-pass-1234")
    core_services.membership_set(user=viewer, workspace=workspace, role="viewer")
    client.force_login(viewer)
    with caplog.at_level("WARNING", logger="django.request"):
        assert client.get("/customers/").status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Forbidden")
    assert record.exc_info is None
