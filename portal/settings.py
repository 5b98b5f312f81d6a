"""Edge Portal settings, read from the environment.

With nothing set: SQLite and django-q2's ORM broker under ./var, DEBUG off, and a random
SECRET_KEY / Fernet key created once in ./var. Production sets the variables documented
in README.md (DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY, FERNET_KEYS, ALLOWED_HOSTS...).
"""

import os
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

from portal.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    persistent_secret,
    random_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or persistent_secret(
    DATA_DIR / "secret_key", random_secret_key
)
# Provider tokens and SSH private keys are encrypted with these (first one encrypts,
# all decrypt: prepend a new key, run `manage.py rotate_secrets`, then drop the old one).
FERNET_KEYS = env_list("FERNET_KEYS") or [
    persistent_secret(DATA_DIR / "fernet_key", lambda: Fernet.generate_key().decode())
]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    "portal",
    "providers",
    "provisions",
    "marketplace",
    "vms",
    "monitoring",
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
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the django-q2 worker write the same file: wait for locks
    # instead of failing with "database is locked", and let readers run beside writers.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Jobs configure hosts from several threads; an in-memory shared-cache test database locks
    # whole tables under that, so tests use a real file like production does.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-portal-{os.getpid()}.sqlite3")}
else:
    # One test database per test process (here and above), so that two test runs on one
    # machine (CI's two passes, a benchmark beside the suite) never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# WhiteNoise warns about a missing STATIC_ROOT; `collectstatic` fills it for production.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Security: production turns these on through the environment (see README).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Edge Portal API",
    "DESCRIPTION": "Providers, provisions (edge clusters), marketplace, templates and VMs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProvisionStateEnum": "provisions.choices.ProvisionState",
        "HostStateEnum": "provisions.choices.HostState",
        "JobStateEnum": "provisions.choices.JobState",
        "ResourceStateEnum": "provisions.choices.ResourceState",
        "ResourceKindEnum": "provisions.choices.ResourceKind",
        "NetworkKindEnum": "provisions.choices.NetworkKind",
        "DatastoreKindEnum": "provisions.choices.DatastoreKind",
        "JobKindEnum": "provisions.choices.JobKind",
        "MarketplaceKindEnum": "marketplace.choices.MarketplaceKind",
        "VMStateEnum": "vms.choices.VMState",
    },
}

# django-q2: the ORM broker needs nothing installed; REDIS_URL switches to Redis.
REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    "name": "edge-portal",
    "workers": env_int("Q_WORKERS", 4),
    "timeout": env_int("Q_TIMEOUT", 3600),
    "retry": env_int("Q_TIMEOUT", 3600) + 60,
    "max_attempts": 1,
    "catch_up": False,
    "ack_failures": True,
    "label": "Jobs",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = env_float("Q_POLL", 0.5)
# Tests run jobs inline unless they ask for the worker.
Q_SYNC = env_bool("Q_SYNC", False)
if Q_SYNC:
    Q_CLUSTER["sync"] = True

# DigitalOcean: the driver's endpoint is configuration (the lab points it at the simulator).
DIGITALOCEAN_API_URL = env_str("DIGITALOCEAN_API_URL", "https://api.digitalocean.com/v2/")
DIGITALOCEAN_TIMEOUT = (
    env_float("DIGITALOCEAN_CONNECT_TIMEOUT", 5.0),
    env_float("DIGITALOCEAN_READ_TIMEOUT", 30.0),
)
DIGITALOCEAN_RETRIES = env_int("DIGITALOCEAN_RETRIES", 5)
DIGITALOCEAN_BACKOFF = env_float("DIGITALOCEAN_BACKOFF", 0.5)
DIGITALOCEAN_MAX_RETRY_AFTER = env_float("DIGITALOCEAN_MAX_RETRY_AFTER", 60.0)
# Every droplet the portal makes carries this tag besides its provision's own: monitoring lists
# them all in one call per token.
DIGITALOCEAN_PORTAL_TAG = env_str("DIGITALOCEAN_PORTAL_TAG", "edge-portal")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # python-digitalocean logs request headers at DEBUG; keep it quiet on principle.
        "digitalocean": {"level": "WARNING"},
        "paramiko": {"level": "WARNING"},
    },
}

# Provisioning jobs.
JOBS_SYNC = env_bool("JOBS_SYNC", False)  # run jobs inline (tests, debugging)
PROVISION_MAX_HOSTS = env_int("PROVISION_MAX_HOSTS", 64)
PROVISION_BOOT_TIMEOUT = env_float("PROVISION_BOOT_TIMEOUT", 600.0)
PROVISION_POLL_INTERVAL = env_float("PROVISION_POLL_INTERVAL", 5.0)
PROVISION_SSH_WAIT = env_float("PROVISION_SSH_WAIT", 180.0)
PROVISION_DELETE_TIMEOUT = env_float("PROVISION_DELETE_TIMEOUT", 300.0)
PROVISION_STEP_ATTEMPTS = env_int("PROVISION_STEP_ATTEMPTS", 4)

# Job leases (provisions.leases): a running job's worker renews its lease every heartbeat; a
# job whose lease expired is taken over and resumed by another worker.
JOB_LEASE_SECONDS = env_float("JOB_LEASE_SECONDS", 60.0)
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 5.0)

# Monitoring (monitoring/): one cycle every MONITOR_INTERVAL reads every host once over SSH and
# lists the portal's DigitalOcean objects once per token.
MONITOR_ENABLED = env_bool("MONITOR_ENABLED", True)
MONITOR_INTERVAL = env_float("MONITOR_INTERVAL", 30.0)
# Cycles in a row a host may fail to answer before it is ERROR and its VMs UNKNOWN.
MONITOR_HOST_FAILURES = env_int("MONITOR_HOST_FAILURES", 3)
MONITOR_SSH_TIMEOUT = env_float("MONITOR_SSH_TIMEOUT", 10.0)
MONITOR_RETENTION_HOURS = env_float("MONITOR_RETENTION_HOURS", 24.0)
# The share of a token's hourly DigitalOcean budget the drift check may spend, and the budget.
MONITOR_API_SHARE = env_float("MONITOR_API_SHARE", 0.10)
DIGITALOCEAN_HOURLY_LIMIT = env_int("DIGITALOCEAN_HOURLY_LIMIT", 5000)
# Below this many requests left in the token's window, the drift check waits for a later cycle.
MONITOR_API_RESERVE = env_int("MONITOR_API_RESERVE", 500)

# VMs (LXC system containers).
VM_QUOTA_DEFAULT = {
    "vms": env_int("VM_QUOTA_VMS", 20),
    "cpu": env_float("VM_QUOTA_CPU", 16.0),
    "memory_mb": env_int("VM_QUOTA_MEMORY_MB", 32768),
}
VM_CPU_OVERCOMMIT = env_float("VM_CPU_OVERCOMMIT", 4.0)
