"""Edge Portal settings, read from the environment.

With nothing set: SQLite and django-q2's ORM broker under ./var, DEBUG off, and a random
SECRET_KEY / Fernet key created once in ./var. Production sets the variables documented
in README.md (DATABASE_URL, REDIS_URL, DJANGO_SECRET_KEY, FERNET_KEYS, ALLOWED_HOSTS...).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

from core.datadir import private_dir, private_file
from core.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
    persistent_secret,
    random_secret_key,
)

# The portal's own settings (DigitalOcean, provisioning, SSH, jobs, monitoring, VMs, consoles).
from portal.edge_settings import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = private_dir(Path(env_str("PORTAL_DATA_DIR", str(BASE_DIR / "var"))))

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
    "axes",
    "core",
    "portal",
    "providers",
    "provisions",
    "marketplace",
    "vms",
    "backups",
    "costs",
    "audit",
    "webhooks",
    "monitoring",
    "consoles",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before host checks, HTTPS redirects and sessions.
    "portal.health.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every change (POST, PUT, PATCH, DELETE) to pages, API and admin, recorded once answered.
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a login refused for lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
# Channels (consoles): the ASGI application it wraps, and its channel layer, one process's
# memory for `make run`, Redis when REDIS_URL is set (several web processes, several machines).
ASGI_APPLICATION = "portal.asgi.application"

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
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        private_file(Path(DATABASES["default"]["NAME"]))
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
# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
# How many reverse proxies in front of the portal append to X-Forwarded-For. 0 (the default):
# the client is REMOTE_ADDR and the header is ignored, because a client can write anything in it
# and would get a fresh address, so fresh lockout and throttle counts, with each request.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# The API throttles and failed-token counts live in this cache (django-axes keeps its login
# failures in the database). Django's per-process memory cache is enough for `make run` (one web
# server process, its threads share it); several web processes must share one cache (Redis), or
# each keeps its own counts and a client gets that many times the limits.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if env_str("REDIS_URL"):
    # Production: every web process (of every machine) counts in the one Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("REDIS_URL"),
            "KEY_PREFIX": "edge-portal",
        }
    }

# Login brute force (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from
# anywhere, or from one address for any usernames, logins for that username / from that address
# are refused (429 and the lockout page), the right password included, until AXES_COOLOFF_MINUTES
# after the last failure (a failure during lockout restarts it). Per username alone, a password
# spray from one address over many users would pass; per address alone, a botnet on one user.
# Operators unlock in the admin (Access attempts: delete the row) or `manage.py
# axes_reset_username NAME` / `axes_reset_ip ADDRESS`.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_MINUTES = env_float("AXES_COOLOFF_MINUTES", 15.0)  # 0: until an operator unlocks
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES) if AXES_COOLOFF_MINUTES > 0 else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "core.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_address"
# Not AXES_RESET_ON_SUCCESS: a success deletes the address's failures too, so an attacker could
# log in to their own account every few guesses and never be locked out.
AXES_VERBOSE = False  # its start-up banner on every management command
# Its log lines then name the username and address locked out (passwords are always masked).
AXES_SENSITIVE_PARAMETERS = []

# API brute force: DRF checks authentication before throttles, so a wrong API token is refused
# (401) before any throttle counts it. core.api.token_failures counts them per address: after
# API_TOKEN_FAILURE_LIMIT within API_TOKEN_FAILURE_WINDOW seconds the address gets 429 for the
# next window, whatever token it sends.
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 20)
API_TOKEN_FAILURE_WINDOW = env_int("API_TOKEN_FAILURE_WINDOW", 600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "core.api.permissions.ChangesNeedRole",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.Pagination",
    # JSON only: the CLI sends JSON, and provider bodies nest (connection, inputs), which form
    # encodings cannot carry; the schema then advertises no body type that does not work.
    "DEFAULT_PARSER_CLASSES": ["core.api.json.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api.json.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttles.UserThrottle",
        "core.api.throttles.AnonThrottle",
    ],
    # Per user (all their tokens and their browser session together) and, unauthenticated, per
    # address. 20 a second leaves room for the pages' chart polling beside several `--wait`
    # CLIs (2 requests a second each; 10 in the lab tests' fast polling) and still stops a
    # runaway script; the one-minute window keeps DRF's per-key history list short.
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_RATE_USER", "1200/min"),
        "anon": env_rate("API_RATE_ANON", "60/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
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
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_rate_limited_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProvisionStateEnum": "provisions.choices.ProvisionState",
        "HostStateEnum": "provisions.choices.HostState",
        "JobStateEnum": "jobs.states.JobState",
        "ResourceStateEnum": "provisions.choices.ResourceState",
        "ResourceKindEnum": "provisions.choices.ResourceKind",
        "NetworkKindEnum": "provisions.choices.NetworkKind",
        "DatastoreKindEnum": "provisions.choices.DatastoreKind",
        "JobKindEnum": "provisions.choices.JobKind",
        "MarketplaceKindEnum": "marketplace.choices.MarketplaceKind",
        "VMStateEnum": "vms.choices.VMState",
        "RecoveryPolicyEnum": "vms.choices.RecoveryPolicy",
        "WebhookEventEnum": "webhooks.choices.WebhookEvent",
        "DeliveryStateEnum": "webhooks.choices.DeliveryState",
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
# Jobs run inline, inside the call that starts them, instead of on a worker: for tests,
# debugging and the screenshots. django-q2's own switch follows it.
JOBS_SYNC = env_bool("JOBS_SYNC", False)
Q_CLUSTER["sync"] = JOBS_SYNC

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
        # Failures and lockouts are warnings; each successful login is in the admin's access log.
        "axes": {"level": "WARNING"},
    },
}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "edge-portal:channels"},
        }
    }
