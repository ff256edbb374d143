"""Django settings, driven by environment variables (README, "Configuration", lists each one).

Embedded default (no variables set): SQLite under ``$CXLOOP_HOME`` (default: ``.cxloop`` in the
project folder when run from a checkout, else ``$XDG_DATA_HOME/cxloop``) and the database-backed
task queue. Production: set ``DATABASE_URL`` (PostgreSQL) and ``CXLOOP_TASKS=rq`` with ``REDIS_URL``.
"""

import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import plotly
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def default_home() -> Path:
    """``.cxloop`` in the project folder when cxloop runs from a checkout (its source, or a venv
    inside it), else the user's data folder: never the current folder, so running a command from
    another folder does not silently start an empty database there."""
    for root in (BASE_DIR.parents[1], Path(sys.prefix).parent):
        if (root / "pyproject.toml").is_file() and (root / "src" / "cxloop").is_dir():
            return root / ".cxloop"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "cxloop"


def secret_key(home: Path) -> str:
    """``CXLOOP_SECRET_KEY``, else a random key made once and kept in ``$CXLOOP_HOME/secret_key``
    (mode 0600): never a key anyone can read in the source. Refuses an empty key."""
    if "CXLOOP_SECRET_KEY" in os.environ:
        key = os.environ["CXLOOP_SECRET_KEY"].strip()
        if not key:
            raise ImproperlyConfigured(
                "CXLOOP_SECRET_KEY is set but empty: set a long random value, or unset it to use "
                f"the key kept in {home / 'secret_key'}"
            )
        return key
    path = home / "secret_key"
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(get_random_secret_key() + "\n")
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it (a new key is made) or fill it")
    return key


CXLOOP_HOME = Path(os.environ.get("CXLOOP_HOME") or default_home()).resolve()

DEBUG = os.environ.get("CXLOOP_DEBUG", "0") == "1"
SECRET_KEY = secret_key(CXLOOP_HOME)
ALLOWED_HOSTS = os.environ.get(
    "CXLOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver"
).split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("CXLOOP_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "axes",
    "csp",
    "cxloop.core",
    "cxloop.customers",
    "cxloop.events",
    "cxloop.analytics",
    "cxloop.feedback",
    "cxloop.journeys",
    "cxloop.metrics",
    "cxloop.predict",
    "cxloop.segments",
    "cxloop.workflows",
    "cxloop.text",
    "cxloop.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "cxloop.web.middleware.EngineUnavailableMiddleware",
    "cxloop.web.middleware.AdminLocaleMiddleware",
    # last, as django-axes asks: it turns a locked-out login into the lockout page
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cxloop.urls"
WSGI_APPLICATION = "cxloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cxloop.web.context.workspace",
            ],
        },
    },
]


def _database() -> Mapping[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    CXLOOP_HOME.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": CXLOOP_HOME / "cxloop.sqlite3",
        # Keep each server thread's connection: reopening per request re-runs the PRAGMAs and
        # starts from a cold page cache, which made every tracking request pay for both.
        "CONN_MAX_AGE": 600,
        "OPTIONS": {
            # WAL lets the web server read while an import writes; IMMEDIATE avoids lock upgrades
            # failing under concurrent writers.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA cache_size=-64000;"
                "PRAGMA temp_store=MEMORY;"
                "PRAGMA wal_autocheckpoint=10000;"
            ),
        },
        "TEST": {"NAME": os.environ.get("CXLOOP_TEST_SQLITE")},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_task_backend = os.environ.get("CXLOOP_TASKS", "db")
if _task_backend == "rq":
    RQ_QUEUES = {"default": {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
elif _task_backend == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
elif _task_backend == "db":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured(f"CXLOOP_TASKS={_task_backend!r}: expected db, rq or immediate")

# Sentence embeddings for semantic search and themes (cxloop.text.embeddings): "auto" uses
# all-MiniLM-L6-v2 when the optional extra `embeddings` is installed, "lsa" always the light
# fallback (TF-IDF + TruncatedSVD over the workspace's texts).
TEXT_EMBEDDINGS = os.environ.get("CXLOOP_TEXT_EMBEDDINGS", "auto")
if TEXT_EMBEDDINGS not in ("auto", "lsa"):
    raise ImproperlyConfigured(f"CXLOOP_TEXT_EMBEDDINGS={TEXT_EMBEDDINGS!r}: expected auto or lsa")

# One cache for the whole site. Rate limits (django-ratelimit) and the write-key cache need every
# process to see the same counts: Redis when REDIS_URL is set or Redis is the task queue
# (production), else this process's memory, enough for the embedded single-process server.
if os.environ.get("REDIS_URL") or _task_backend == "rq":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": "cxloop",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit lists only memcached and django-redis: LocMem is shared by every thread of
    # the one embedded server process (all there is), and Django's own RedisCache increments
    # atomically (INCR), which is what the check is about.
    "django_ratelimit.E003",
    "django_ratelimit.W001",
]

AUTHENTICATION_BACKENDS = [
    # refuses a login while the user name or the address is locked out, then the usual check
    "cxloop.core.throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): after CXLOOP_LOGIN_FAILURES wrong passwords for one user name,
# or from one address, logins for it are refused for CXLOOP_LOGIN_COOLOFF_MINUTES; a success resets
# the count. Both counts are kept in the database, so every server process sees them.
AXES_FAILURE_LIMIT = int(os.environ.get("CXLOOP_LOGIN_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CXLOOP_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "cxloop.core.clientip.client_ip"
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # customers, or the dashboard for a viewer
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# the admin follows the browser among these (web.middleware.AdminLocaleMiddleware)
LANGUAGES = [("en", "English"), ("en-gb", "British English"), ("fr", "French"), ("de", "German")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CXLOOP_HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Uploaded files (workflow file fields) live under MEDIA_ROOT and are never served from a URL of
# their own: only a view that checks the reader's permission sends them, as attachments. Replace
# the "workflow_files" storage (e.g. with an S3 one) to keep them elsewhere.
MEDIA_ROOT = Path(os.environ.get("CXLOOP_MEDIA_ROOT") or CXLOOP_HOME / "media").resolve()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "workflow_files": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "workflow-files", "base_url": None},
    },
}
# the largest file a workflow form accepts, and the kinds it accepts (by extension, each checked
# against the file's first bytes)
_FILE_MAX_MB = os.environ.get("CXLOOP_WORKFLOW_FILE_MAX_MB", "10").strip()
if not _FILE_MAX_MB.isdigit() or not 1 <= int(_FILE_MAX_MB) <= 1024:
    raise ImproperlyConfigured(
        f"CXLOOP_WORKFLOW_FILE_MAX_MB={_FILE_MAX_MB[:20]!r}: expected a whole number of MB, 1–1024"
    )
WORKFLOW_FILE_MAX_BYTES = int(_FILE_MAX_MB) * 1024 * 1024
WORKFLOW_FILE_TYPES = ("pdf", "png", "jpg", "jpeg", "gif", "webp", "txt", "csv", "docx", "xlsx",
                       "pptx", "odt", "ods")  # fmt: skip
WHITENOISE_USE_FINDERS = True
# plotly.js ships inside the plotly package: served as static/plotly/plotly.min.js
STATICFILES_DIRS = [("plotly", Path(plotly.__file__).parent / "package_data")]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a proxy that ends TLS (nginx, Caddy, a load balancer): trust its X-Forwarded-Proto to
# tell HTTPS requests (else CXLOOP_HTTPS=1 redirects them to HTTPS again, forever) and the last
# address in its X-Forwarded-For as the client's (login throttling, rate limits). Only set it when
# such a proxy is the only way in: a client could send those headers itself.
BEHIND_PROXY = os.environ.get("CXLOOP_BEHIND_PROXY") == "1"
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
RATELIMIT_IP_META_KEY = "cxloop.core.clientip.client_ip"
if os.environ.get("CXLOOP_HTTPS") == "1":
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("CXLOOP_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("CXLOOP_HSTS_SUBDOMAINS") == "1"

# Content-Security-Policy (django-csp): only this site's own scripts, plus inline ones carrying the
# request's nonce (``<script nonce="{{ request.csp_nonce }}">``); no inline event handlers, no eval.
# Styles allow inline `style` attributes (bar widths, htmx's and plotly's own styles); images allow
# data: URLs (plotly and the API docs draw icons that way). On in every mode: the pages are the same.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        # no frame-ancestors: X-Frame-Options (DENY, lifted only for the embeddable public
        # survey page) decides framing; browsers ignore it once frame-ancestors is set
    }
}

# Email (survey invitations): real SMTP when CXLOOP_SMTP_HOST is set; otherwise messages are
# written as .eml files to $CXLOOP_HOME/outbox so the embedded default never needs a mail server.
DEFAULT_FROM_EMAIL = os.environ.get("CXLOOP_FROM_EMAIL", "cxloop <feedback@localhost>")
if os.environ.get("CXLOOP_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["CXLOOP_SMTP_HOST"]
    EMAIL_PORT = int(os.environ.get("CXLOOP_SMTP_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("CXLOOP_SMTP_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("CXLOOP_SMTP_PASSWORD", "")
    EMAIL_USE_TLS = os.environ.get("CXLOOP_SMTP_TLS") == "1"
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = CXLOOP_HOME / "outbox"
PUBLIC_BASE_URL = os.environ.get("CXLOOP_PUBLIC_URL", "http://127.0.0.1:8000")

# The tracking API enforces Segment's limits itself; Django's own cap must sit above them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Requests per write key to /v1/* (django-ratelimit rate, e.g. "6000/m"; "off" disables it).
_track_rate = os.environ.get("CXLOOP_TRACK_RATE", "6000/m")
CXLOOP_TRACK_RATE = None if _track_rate.lower() in ("", "off", "none") else _track_rate

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors": {"()": "cxloop.core.logfilters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("CXLOOP_LOG_LEVEL", "WARNING")},
}

# Limits on the public survey endpoints (no login): per client IP and survey, django-ratelimit
# syntax ("20/m" = 20 a minute). Submissions (the answer page and the public API) and the page's
# autosave count apart: autosave fires as a person answers. One browser (a signed cookie) or one
# IP + user agent completes an anonymous survey once per CXLOOP_SURVEY_REPEAT_WINDOW seconds
# (0 turns the IP + user agent check off, e.g. for a survey on a shared in-store tablet).
# The analytics engine (docs/adr/0001-analytics-engine.md): ``embedded`` (chdb's store in
# $CXLOOP_HOME/engine, owned by the process `cxloop serve` starts), ``sql`` (queries on the
# database itself: small installs) or a ClickHouse server's URL (``clickhouse://user:pw@host:8123/db``).
CXLOOP_ANALYTICS = os.environ.get("CXLOOP_ANALYTICS", "embedded").strip() or "embedded"
CXLOOP_SURVEY_RATE = os.environ.get("CXLOOP_SURVEY_RATE", "20/m")
CXLOOP_SURVEY_SAVE_RATE = os.environ.get("CXLOOP_SURVEY_SAVE_RATE", "60/m")
CXLOOP_SURVEY_REPEAT_WINDOW = int(os.environ.get("CXLOOP_SURVEY_REPEAT_WINDOW", "3600"))
# Behind a reverse proxy, the request header holding the client's address (e.g. HTTP_X_REAL_IP);
# otherwise REMOTE_ADDR, and every client behind the proxy would share one limit.
CXLOOP_CLIENT_IP_HEADER = os.environ.get("CXLOOP_CLIENT_IP_HEADER") or None
# The counters live in Django's cache (CACHES above).
