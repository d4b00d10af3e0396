"""IRIS settings: every value from the environment, parsed strictly, with embedded defaults.

Each variable is read once, here, through surveys/env.py, whatever the others say (so a malformed
value stops start-up even where it would not be used), and each is listed in the README's table.

With nothing set: SQLite, files under ``media/``, and a Celery broker on the local filesystem, so
``make demo`` runs on a fresh machine with no services. Set ``DATABASE_URL``, ``CELERY_BROKER_URL``
and the ``AWS_*`` storage variables for PostgreSQL, Redis and S3-compatible storage (README, Deploy).
"""

import importlib.util
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from surveys.env import env_bool, env_choice, env_fernet_key, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("IRIS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
_DEV_SECRET = "iris-embedded-default-not-for-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_SECRET if DEBUG or not env_str("DATABASE_URL") else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL is set and DJANGO_DEBUG is off")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# Where participants and researchers reach this site; used to print links (make demo, admin).
SITE_URL = env_str("IRIS_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

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
    # The app stack, each importing only those above it in this list (docs/architecture.md).
    "surveys.generation",
    "surveys.studies",
    "surveys.trials",
    "surveys.scoring",
    "surveys.console",
]

MIDDLEWARE = [
    "surveys.shedding.QueueShedMiddleware",  # first: a request that waited too long is answered at once
    "surveys.limits.RequestSizeLimitMiddleware",  # before anything reads the body
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "surveys.csp_policy.SitePolicyMiddleware",  # django-csp's, with the site-wide header built once
]

ROOT_URLCONF = "surveys.urls"
WSGI_APPLICATION = "surveys.wsgi.application"

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


def _database() -> dict:
    url = env_str("DATABASE_URL")
    conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded default keeps its SQLite file here
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "iris.sqlite3",
                "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"}}
    try:
        # Health checks: a connection kept between requests that has dropped (PostgreSQL restarted,
        # an idle timeout) is replaced before the request uses it, instead of failing it.
        config = dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=True)
    except Exception as error:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {error}") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"DATABASE_URL has an unknown scheme: {url.split(':', 1)[0]!r}")
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The languages a study's participant pages can be in (Study.language). The researcher's pages stay
# in LANGUAGE_CODE: no middleware follows a browser's Accept-Language. The catalogues, .po and the
# compiled .mo, are committed under surveys/locale (docs/architecture.md, "Languages").
LANGUAGES = [("en", "English"), ("de", "German")]
LOCALE_PATHS = [BASE_DIR / "surveys" / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # jsPsych and its plugins come from npm (package.json, pinned) and are served from each
    # package's browser build: no CDN for participants, no bundler for us.
    ("vendor/jspsych", BASE_DIR / "node_modules" / "jspsych" / "dist"),
    ("vendor/jspsych-css", BASE_DIR / "node_modules" / "jspsych" / "css"),
    ("vendor/jspsych-plugins", BASE_DIR / "node_modules" / "@jspsych"),
]

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"


def _storages() -> dict:
    default = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    bucket = env_str("AWS_STORAGE_BUCKET_NAME")
    s3 = {"endpoint_url": env_str("AWS_S3_ENDPOINT_URL"), "region_name": env_str("AWS_S3_REGION_NAME"),
          "access_key": env_str("AWS_ACCESS_KEY_ID"), "secret_key": env_str("AWS_SECRET_ACCESS_KEY")}
    if bucket:
        default = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                **s3,
                # Stimuli are private: URLs are signed and short-lived; participants get images
                # through our opaque per-trial URLs, never a bucket URL that names the file.
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
    static = {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}
    compress = env_bool("IRIS_COMPRESS_STATIC", True)
    if DEBUG or not compress:
        static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    return {"default": default, "staticfiles": static}


STORAGES = _storages()

# Celery. The database, not the broker, holds job state (docs/conventions.md §7); the broker only
# carries ids. With no broker configured, kombu's filesystem transport needs no service at all.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
# A task a killed worker held comes back after the visibility timeout; redelivery while a live
# worker still runs it is harmless, because batches are claimed with a lease (IRIS_BATCH_LEASE_S).
_VISIBILITY_TIMEOUT_S = env_int("CELERY_VISIBILITY_TIMEOUT_S", 3600, minimum=1)
# How often a worker looks for such orphaned tasks (kombu's default scans only every ~100 s).
_RESTORE_INTERVAL_S = env_int("CELERY_RESTORE_INTERVAL_S", 10, minimum=1)
if CELERY_BROKER_URL.startswith("filesystem"):
    (_BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"data_folder_in": str(_BROKER_DIR), "data_folder_out": str(_BROKER_DIR),
     "control_folder": str(_BROKER_DIR / "control"), "store_processed": False}
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": _VISIBILITY_TIMEOUT_S, "unacked_restore_interval": _RESTORE_INTERVAL_S,
          "unacked_restore_throttle": 1}
)
# No task's result is waited for: the state of all background work, a checkpoint's inspection
# included (RegisteredModel.status), is in the database.
CELERY_TASK_ALWAYS_EAGER = env_bool("IRIS_TASKS_INLINE", False)
CELERY_TASK_EAGER_PROPAGATES = True
# A batch is acknowledged only after it finished, so a worker killed mid-batch hands it to another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Generation and checkpoint inspection need the engine (torch): gpu workers take batches, inspect workers
# inspections, on a queue of their own so a registration never waits behind a batch of hours.
# Notifications go out from the default queue's workers, never from a request.
CELERY_TASK_ROUTES = {"generation.batch_run": {"queue": "gpu"}, "generation.model_inspect": {"queue": "inspect"},
                      "generation.notification_deliver": {"queue": "default"}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Registration inspects checkpoints with the engine: in a subprocess while the request waits when
# torch is installed beside the web app, else on an inspect worker after the request (the torch-free
# web image), the model saved as inspecting meanwhile.
IRIS_INSPECT_ON_WORKER = env_bool("IRIS_INSPECT_ON_WORKER", importlib.util.find_spec("torch") is None)
# A running batch whose worker has not reported for this long is presumed dead: a redelivered task
# may claim it again. Workers report several times a second, so this only has to exceed a stall.
IRIS_BATCH_LEASE_S = env_int("IRIS_BATCH_LEASE_S", 120, minimum=1)
# Which device a generation worker uses: "auto" takes CUDA when present.
IRIS_DEVICE = env_str("IRIS_DEVICE", "auto")
# How many target images one generation task takes; several GPU workers share a job by batches.
IRIS_BATCH_SIZE = env_int("IRIS_BATCH_SIZE", 8, minimum=1)
# Code-bearing models (TorchScript) are inspected and run only in a confined child process
# (iri_engine.sandbox): its address space, and its wall time when inspected and per batch. Its CPU
# time is the wall time times its threads (one).
IRIS_SANDBOX_MEMORY_MB = env_int("IRIS_SANDBOX_MEMORY_MB", 8192, minimum=512)
IRIS_SANDBOX_INSPECT_S = env_int("IRIS_SANDBOX_INSPECT_S", 120, minimum=1)
IRIS_SANDBOX_BATCH_S = env_int("IRIS_SANDBOX_BATCH_S", 6 * 3600, minimum=1)
# Where a worker keeps local copies of checkpoints that live in remote storage (S3), keyed by hash.
IRIS_CHECKPOINT_CACHE = Path(env_str("IRIS_CHECKPOINT_CACHE", str(Path.home() / ".cache" / "iris" / "checkpoints")))
# The largest request body (and so the largest uploaded checkpoint, image or zip), refused from its
# Content-Length (surveys/limits.py); the front server's own limit sits above it (docker/nginx.conf).
IRIS_MAX_UPLOAD_BYTES = env_int("IRIS_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024)
# A request that waited longer than this in the front server's queue is answered 503 at once
# (surveys/shedding.py); 0 never sheds.
IRIS_SHED_QUEUE_MS = env_int("IRIS_SHED_QUEUE_MS", 3000, minimum=0)
# Behind a front server that follows X-Accel-Redirect (nginx): the internal location that serves
# participants' images, so Django checks each request and the front server copies the bytes
# (surveys/trials/image_delivery.py). Empty: Django sends the bytes itself.
IRIS_IMAGE_ACCEL_PREFIX = env_str("IRIS_IMAGE_ACCEL_PREFIX", "")
if IRIS_IMAGE_ACCEL_PREFIX and not re.fullmatch(r"/[A-Za-z0-9_/-]*/", IRIS_IMAGE_ACCEL_PREFIX):
    raise ImproperlyConfigured(f"IRIS_IMAGE_ACCEL_PREFIX={IRIS_IMAGE_ACCEL_PREFIX!r} is not a location such as /_iris_media/")
# Shared with the front server, which checks participants' image links itself (nginx secure_link,
# surveys/trials/image_links.py): set, the trial fetch gives signed, expiring links under
# IRIS_IMAGE_LINK_PREFIX and no image request reaches Django. Empty: each image is a Django request.
# Letters, digits, "-" and "_" only: it is written into the front server's configuration.
IRIS_IMAGE_LINK_SECRET = env_str("IRIS_IMAGE_LINK_SECRET", "")
if IRIS_IMAGE_LINK_SECRET and not re.fullmatch(r"[A-Za-z0-9_-]{32,}", IRIS_IMAGE_LINK_SECRET):
    raise ImproperlyConfigured("IRIS_IMAGE_LINK_SECRET must be at least 32 letters, digits, '-' or '_'")
IRIS_IMAGE_LINK_PREFIX = env_str("IRIS_IMAGE_LINK_PREFIX", "/_iris_img/")
if not re.fullmatch(r"/[A-Za-z0-9_/-]*/", IRIS_IMAGE_LINK_PREFIX):
    raise ImproperlyConfigured(f"IRIS_IMAGE_LINK_PREFIX={IRIS_IMAGE_LINK_PREFIX!r} is not a location such as /_iris_img/")
# Form fields other than files are held in memory: 5 MiB of them at most. A file above
# FILE_UPLOAD_MAX_MEMORY_SIZE is streamed to a temporary file instead of memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Researchers (active staff) only, whatever token a caller holds (docs/security.md).
    "DEFAULT_PERMISSION_CLASSES": ["surveys.console.permissions.IsResearcher"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "surveys.console.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IRIS API",
    "DESCRIPTION": "Models, generation jobs, studies and alignment scores.",
    "VERSION": "0.1.0",
    # Several models have a "status" or a "source"; each set of choices gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "surveys.generation.models.JobStatus",
        "StudyStatusEnum": "surveys.studies.models.StudyStatus",
        "ParticipantStatusEnum": "surveys.trials.models.ParticipantStatus",
        "RecruitmentSourceEnum": "surveys.trials.models.RecruitmentSource",
        "DecisionSourceEnum": "surveys.scoring.models.DecisionSource",
    },
    # The schema and its docs page are for researchers, as the API is.
    "SERVE_PERMISSIONS": ["surveys.console.permissions.IsResearcher"],
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
_REDIS_CACHE = env_str("REDIS_CACHE_URL")
if _REDIS_CACHE:
    # Short timeouts: only rate limits use this cache, and they let requests through when it is away
    # (surveys/trials/guards.py), so an unreachable Redis must not hold a request for long.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_CACHE,
                          "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The Content-Security-Policy of every page (django-csp; docs/security.md). No inline script anywhere:
# participant pages, admin and the results page load scripts from our own static files only, and pass
# data with json_script. Style *attributes* stay allowed (jsPsych's instructions plugin and admin's
# thumbnails set them; they cannot run code), <style> elements and style sheets come from us only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],  # jsPsych's style sheet embeds its font
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        # Our own forms, and MTurk's external-submit form (surveys/trials/recruitment.py, MTURK_SUBMIT_HOSTS).
        "form-action": [SELF, "https://www.mturk.com", "https://workersandbox.mturk.com"],
    },
}
LOG_LEVEL = env_choice("IRIS_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"surveys": {"level": LOG_LEVEL}, "celery": {"level": LOG_LEVEL}},
}

# Participant endpoints are rate-limited per session token, and more loosely per address so that
# many participants behind one address never wait (counted in the shared cache; 429 with
# Retry-After; a cache outage lets requests through). surveys/trials/guards.py.


def _rate(name: str, default: str) -> str:
    """A rate as django-ratelimit writes it: requests per period ("240/m", "10/5s")."""
    value = env_str(name, default)
    if not re.fullmatch(r"[0-9]+/[0-9]*[smhd]", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 240/m (per s, m, h or d)")
    return value


IRIS_PARTICIPANT_RATE = _rate("IRIS_PARTICIPANT_RATE", "240/m")
IRIS_IMAGE_RATE = _rate("IRIS_IMAGE_RATE", "1200/m")
IRIS_ADDRESS_RATE = _rate("IRIS_ADDRESS_RATE", "12000/m")
# Behind a front server every request comes from its address: name the header that carries the
# client's own (HTTP_X_REAL_IP, which docker/nginx.conf sets), so limits stay per participant.
RATELIMIT_IP_META_KEY = env_str("IRIS_CLIENT_IP_META_KEY", "REMOTE_ADDR")
RATELIMIT_ENABLE = env_bool("IRIS_RATELIMIT", True)
# The front server counts the participants' limits itself (docker/nginx.conf's limit_req, at these
# rates): the web service then counts nothing, which saves a Redis round trip on every request.
IRIS_RATE_LIMITS_AT_FRONT = env_bool("IRIS_RATE_LIMITS_AT_FRONT", False)
# The embedded default runs one web process, where a per-process cache is shared enough.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
# Static files come straight from the finders (no collectstatic step) unless a deployment collects them.
WHITENOISE_USE_FINDERS = env_bool("IRIS_STATIC_FROM_FINDERS", True)

# Participant sessions (surveys/trials): a started or consented session silent for this long is
# abandoned; it is marked timed out and its place in the design goes to the next arrival.
IRIS_SESSION_TIMEOUT_S = env_int("IRIS_SESSION_TIMEOUT_S", 3600, minimum=60)
# The stopping rule (docs/method.md §3): a completion queues a check of its study this many seconds
# later, and completions meanwhile join it, so a busy study is scored at most once per this interval.
IRIS_RECRUITMENT_CHECK_S = env_int("IRIS_RECRUITMENT_CHECK_S", 30, minimum=0)

# Prolific (docs/prolific.md): where its API is (a local fake in tests), and the Fernet key that
# encrypts each researcher's Prolific token at rest; without a key no token is stored.
IRIS_PROLIFIC_URL = env_str("IRIS_PROLIFIC_URL", "https://api.prolific.com/api/v1").rstrip("/")
IRIS_PROLIFIC_KEY = env_fernet_key("IRIS_PROLIFIC_KEY")

# Notifications (docs/notifications.md). Mail goes out through SMTP once EMAIL_HOST is set; without it
# each message is written to the sending worker's log, so the embedded default mails nobody.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_TIMEOUT = 10  # seconds an SMTP server may take to answer; a failed send is retried by its task
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "IRIS <iris@localhost>")
# Webhooks call only public addresses; an operator whose receivers live on an internal network names
# it here (CIDR), and plain http is allowed to those networks only (surveys/common/webhooks.py).
IRIS_WEBHOOK_ALLOWED_NETWORKS = env_networks("IRIS_WEBHOOK_ALLOWED_NETWORKS")
