"""Django settings, driven by environment variables.

Embedded default (no variables set): SQLite under ``$CXLOOP_HOME`` (default ``./.cxloop``) and the
database-backed task queue. Production: set ``DATABASE_URL`` (PostgreSQL) and ``CXLOOP_TASKS=rq``
with ``REDIS_URL``.
"""

import os
from pathlib import Path

import dj_database_url
import plotly

BASE_DIR = Path(__file__).resolve().parent
CXLOOP_HOME = Path(os.environ.get("CXLOOP_HOME", Path.cwd() / ".cxloop")).resolve()

DEBUG = os.environ.get("CXLOOP_DEBUG", "0") == "1"
SECRET_KEY = (
    os.environ.get("CXLOOP_SECRET_KEY") or "insecure-dev-key-set-CXLOOP_SECRET_KEY-in-production"
)
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
    "cxloop.core",
    "cxloop.customers",
    "cxloop.events",
    "cxloop.feedback",
    "cxloop.journeys",
    "cxloop.metrics",
    "cxloop.segments",
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


def _database() -> dict:
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
    INSTALLED_APPS.append("django_tasks_rq")
elif _task_backend == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"  # customers, or the dashboard for a viewer
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CXLOOP_HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# plotly.js ships inside the plotly package: served as static/plotly/plotly.min.js
STATICFILES_DIRS = [("plotly", Path(plotly.__file__).parent / "package_data")]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if os.environ.get("CXLOOP_HTTPS") == "1":
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True

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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CXLOOP_LOG_LEVEL", "WARNING")},
}

# Limits on the public survey endpoints (no login): per client IP and survey, django-ratelimit
# syntax ("20/m" = 20 a minute). Submissions (the answer page and the public API) and the page's
# autosave count apart: autosave fires as a person answers. One browser (a signed cookie) or one
# IP + user agent completes an anonymous survey once per CXLOOP_SURVEY_REPEAT_WINDOW seconds
# (0 turns the IP + user agent check off, e.g. for a survey on a shared in-store tablet).
CXLOOP_SURVEY_RATE = os.environ.get("CXLOOP_SURVEY_RATE", "20/m")
CXLOOP_SURVEY_SAVE_RATE = os.environ.get("CXLOOP_SURVEY_SAVE_RATE", "60/m")
CXLOOP_SURVEY_REPEAT_WINDOW = int(os.environ.get("CXLOOP_SURVEY_REPEAT_WINDOW", "3600"))
# Behind a reverse proxy, the request header holding the client's address (e.g. HTTP_X_REAL_IP);
# otherwise REMOTE_ADDR, and every client behind the proxy would share one limit.
CXLOOP_CLIENT_IP_HEADER = os.environ.get("CXLOOP_CLIENT_IP_HEADER") or None
RATELIMIT_IP_META_KEY = "cxloop.core.throttle.client_ip"
# The counters live in Django's cache: in memory in the embedded default (one server process, its
# threads share it); on Redis with CXLOOP_TASKS=rq, so several processes share one count.
if _task_backend == "rq":
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        }
    }
