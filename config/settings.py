"""Lamina settings, read from the environment.

With no DATABASE_URL / REDIS_URL, Lamina runs on its embedded default: a SQLite file and Celery
tasks executed eagerly in-process, so that a newcomer's first command needs nothing installed.
With them set, PostgreSQL (psycopg 3) and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import environ
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

# The local settings `./lamina run` wrote (DEBUG, a generated SECRET_KEY, the database), so that a
# management command pasted in a fresh shell uses what the server uses. The environment wins over
# the file; `./lamina test` and `./lamina bench` set LAMINA_DOTENV=0 and never read it. Production
# has no .env: only `./lamina run` writes one. https://django-environ.readthedocs.io/
if os.environ.get("LAMINA_DOTENV", "1") != "0" and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# A development key only when DEBUG is on; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or ("lamina-dev-only-key" if DEBUG else "")
if not SECRET_KEY:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc without a CDN
    "django_filters",
    "django_htmx",
    "axes",
    "criteria",
    "reviews",
    "pas",
    "notes",
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
    "reviews.context.AuditContextMiddleware",
    "csp.middleware.CSPMiddleware",
    # AxesMiddleware last: it turns a locked-out sign-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "reviews.User"

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

# https://github.com/jazzband/dj-database-url
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "var" / "lamina.sqlite3")),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out user before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "queue"
LOGOUT_REDIRECT_URL = "login"

# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "30")))
# Locked by username and address together: a stranger's guesses cannot lock a reviewer out, and
# reviewers sharing an office egress address do not lock each other out. An address on its own is
# limited (across usernames) by reviews/web/signin.py: SIGNIN_ADDRESS_FAILURE_LIMIT failures per
# cool-off period, then the lockout page.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
SIGNIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("SIGNIN_ADDRESS_FAILURE_LIMIT", "30"))
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
# A plain page that says the account is locked and for how long (reviews/web/views.py).
AXES_LOCKOUT_CALLABLE = "reviews.web.views.locked_out"

# Sessions on screens that show patient data: short, sliding, ended with the browser.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(15 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# Production-safe defaults whenever DEBUG is off.
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# X-Forwarded-Proto is believed only behind a proxy that sets it (and strips a client's own):
# any client could otherwise claim https. Off by default.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
TRUST_X_FORWARDED_PROTO = env_bool("TRUST_X_FORWARDED_PROTO", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUST_X_FORWARDED_PROTO else None
# Content-Security-Policy (django-csp): scripts only from Lamina itself (htmx is served from
# static files, there are no inline scripts), no plugins, no framing. Inline style attributes stay
# allowed: the dashboard's SVG charts colour their legends with them and htmx adds its indicator
# style. The schema browsers (/api/docs/, /api/redoc/) are under the same policy: their assets
# are Lamina's static files (drf-spectacular-sidecar), Swagger UI's start-up script is a file of
# its own (config/urls.py), and ReDoc's search runs in a worker it starts from a blob: URL.
# tests/browser/test_csp.py checks every page in chromium for violations.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "3600"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True  # aware datetimes only

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# The benchmark's framework-plus-database floor (app benchfloor, POST /api/v1/_floor/) is installed
# and mounted only by config/settings_bench.py: it stores whatever a provider sends, which
# production has no use for.
BENCH_FLOOR = False

# The largest body Lamina reads (1 MiB); larger ones get 413 before parsing.
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "12"))
# The note reader's work per request is bounded at intake (notes/limits.py): characters of one
# attachment's text, and of all the attachments of one submission (a request or an answer).
NOTE_MAX_CHARS = int(os.environ.get("NOTE_MAX_CHARS", "20000"))
NOTE_MAX_SUBMISSION_CHARS = int(os.environ.get("NOTE_MAX_SUBMISSION_CHARS", "100000"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["reviews.api.parsers.LaminaJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "reviews.api.errors.lamina_exception_handler",
    # Per provider token; 429 with Retry-After beyond the rate (reviews/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["reviews.api.throttling.ProviderTokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "provider": os.environ.get("PROVIDER_RATE_LIMIT", "600/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "Lamina prior-authorization API",
    "DESCRIPTION": (
        "Providers submit prior-authorization requests for spine procedures, follow their "
        "status and what is missing, answer requests for information, withdraw and appeal."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages load their scripts from Lamina's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Keeps the `$` of FHIR operation routes (Claim/$submit) in the documented paths.
    "PREPROCESSING_HOOKS": ["pas.schema.fhir_operation_paths"],
    # One name for a choice set that several fields share (service.spinal_region, imaging.region).
    "ENUM_NAME_OVERRIDES": {
        "SpinalRegionEnum": "reviews.contract.SPINAL_REGIONS",
        # The model's choice sets, each shared by several outputs under one name.
        "RequestStatusEnum": "reviews.models.Status",
        "AppealStatusEnum": "reviews.models.Appeal.AppealStatus",
        "DeterminationKindEnum": "reviews.models.Determination.Kind",
        "ReviewNoteKindEnum": "reviews.models.ReviewNote.Kind",
        "OutcomeEnum": "reviews.models.Outcome",
        "RoleEnum": "reviews.models.Role",
        "LineOfBusinessEnum": "reviews.models.LineOfBusiness",
        "UrgencyEnum": "reviews.models.Urgency",
    },
}

# --- Celery -----------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Eager only on the embedded default: with Redis configured, a real worker runs the checks.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "lamina")
# Note reading (reviews.tasks.read_notes) goes to this queue when set, so a worker of its own
# reads notes and the evidence checks never wait behind a long note; empty: the default queue.
CELERY_NOTES_QUEUE = os.environ.get("CELERY_NOTES_QUEUE", "")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang intake when Redis is down: fail fast, the sweep re-enqueues later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged message (its worker died) is redelivered after this many seconds; the
    # sweep re-enqueues stale requests sooner, and a second delivery is a no-op.
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 0,  # fail the publish at once; the sweep re-enqueues
}
CELERY_TASK_PUBLISH_RETRY = False
# Tasks report through the database, not through results: publishing then never touches the
# result backend (which would retry its own connection for many seconds when Redis is down).
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = {
    "sweep-unchecked-requests": {
        "task": "reviews.tasks.sweep_unchecked_requests",
        "schedule": 60.0,
    },
    "mark-clocks": {"task": "reviews.tasks.mark_clocks", "schedule": 60.0},
    # Rechecks asked for a date (POST /api/v1/requests/{id}/recheck/) run on that day.
    "run-due-rechecks": {"task": "reviews.tasks.run_due_rechecks", "schedule": 3600.0},
    "seal-audit": {"task": "reviews.audit_tasks.seal_audit", "schedule": 1.0},
    "sweep-fhir-notifications": {
        "task": "pas.tasks.sweep_notifications",
        "schedule": 30.0,
    },
    "publish-audit-checkpoint": {
        "task": "reviews.audit_tasks.publish_audit_checkpoint",
        "schedule": float(os.environ.get("AUDIT_PUBLISH_SECONDS", "60")),
    },
}

# --- Audit checkpoints -----------------------------------------------------------------------
# The Ed25519 private key that signs checkpoints (a PEM file the database never holds; only the
# beat/worker that publishes needs it), the public key verify_audit trusts (defaults to the signing
# key's public half), and the directory the signed checkpoints are written to.
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_VERIFY_KEY = os.environ.get("AUDIT_VERIFY_KEY", "")
AUDIT_CHECKPOINT_DIR = os.environ.get(
    "AUDIT_CHECKPOINT_DIR", str(BASE_DIR / "var" / "audit-checkpoints")
)

# --- Decision windows ---------------------------------------------------------------------------
# CMS-0057-F: 72 hours for expedited, 7 calendar days for standard; per line of business.
DECISION_WINDOWS_HOURS = {
    "commercial": {
        "expedited": int(os.environ.get("WINDOW_COMMERCIAL_EXPEDITED_HOURS", "72")),
        "standard": int(os.environ.get("WINDOW_COMMERCIAL_STANDARD_HOURS", str(7 * 24))),
    },
    "medicare_advantage": {
        "expedited": int(os.environ.get("WINDOW_MEDICARE_ADVANTAGE_EXPEDITED_HOURS", "72")),
        "standard": int(os.environ.get("WINDOW_MEDICARE_ADVANTAGE_STANDARD_HOURS", str(7 * 24))),
    },
    "medicaid": {
        "expedited": int(os.environ.get("WINDOW_MEDICAID_EXPEDITED_HOURS", "72")),
        "standard": int(os.environ.get("WINDOW_MEDICAID_STANDARD_HOURS", str(7 * 24))),
    },
}
DEFAULT_LINE_OF_BUSINESS = os.environ.get("DEFAULT_LINE_OF_BUSINESS", "commercial")
# The criteria profile each line of business uses (see criteria/README).
POLICY_PROFILES = {
    "commercial": os.environ.get("PROFILE_COMMERCIAL", "baseline"),
    "medicare_advantage": os.environ.get("PROFILE_MEDICARE_ADVANTAGE", "baseline"),
    "medicaid": os.environ.get("PROFILE_MEDICAID", "baseline"),
}
# A request is at risk when less than this share of its window is left.
AT_RISK_FRACTION = float(os.environ.get("AT_RISK_FRACTION", "0.25"))
# A request left in received/evaluating longer than this is re-enqueued by the sweep.
SWEEP_AFTER_SECONDS = int(os.environ.get("SWEEP_AFTER_SECONDS", "180"))
AUTHORIZATION_VALID_DAYS = int(os.environ.get("AUTHORIZATION_VALID_DAYS", "90"))
APPEAL_WINDOW_DAYS = int(os.environ.get("APPEAL_WINDOW_DAYS", "60"))
APPEAL_WINDOWS_HOURS = {
    "expedited": int(os.environ.get("APPEAL_EXPEDITED_HOURS", "72")),
    "standard": int(os.environ.get("APPEAL_STANDARD_HOURS", str(30 * 24))),
}
# The health plan the letters speak for, and how a member or provider reaches it (every letter
# prints these). The defaults point to the member's ID card, which always carries them.
PLAN_NAME = os.environ.get("PLAN_NAME", "Your health plan")
PLAN_PHONE = os.environ.get("PLAN_PHONE", "the Member Services number on the back of the ID card")
PLAN_TTY = os.environ.get("PLAN_TTY", "711")
PLAN_ADDRESS = os.environ.get(
    "PLAN_ADDRESS", "Utilization Management, at the address on the back of the ID card"
)
# How long $submit waits for the evidence checks before answering "pended" (PAS: 15 s).
FHIR_SUBMIT_WAIT_SECONDS = float(os.environ.get("FHIR_SUBMIT_WAIT_SECONDS", "12"))
# FHIR subscriptions: endpoints on loopback, private or link-local addresses are refused (when the
# subscription is made and at every delivery) unless this allows them; a notification not
# delivered at once is sent again by the beat sweep after this many seconds, with backoff between
# attempts, until it is delivered or has failed this many times.
FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS = env_bool("FHIR_SUBSCRIPTION_PRIVATE_ENDPOINTS", False)
FHIR_NOTIFICATION_SWEEP_SECONDS = int(os.environ.get("FHIR_NOTIFICATION_SWEEP_SECONDS", "60"))
FHIR_NOTIFICATION_MAX_ATTEMPTS = int(os.environ.get("FHIR_NOTIFICATION_MAX_ATTEMPTS", "8"))
# The public base of Lamina's FHIR endpoint, for canonical URLs (Questionnaire.url); empty: the
# base the client reached.
FHIR_CANONICAL_BASE = os.environ.get("FHIR_CANONICAL_BASE", "")

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache holds only rate-limit counts: with Redis down, give up within a second
            # and no retries (the throttle then counts locally), rather than hang intake.
            "OPTIONS": {
                "socket_connect_timeout": float(os.environ.get("CACHE_CONNECT_TIMEOUT", "0.5")),
                "socket_timeout": float(os.environ.get("CACHE_SOCKET_TIMEOUT", "1")),
                "retry": Retry(NoBackoff(), 0),
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# No patient data in logs: Lamina logs ids and codes only, never names or clinical text.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's request logger prints full request lines on 4xx; keep warnings out.
        "django.request": {"level": "ERROR"},
    },
}
