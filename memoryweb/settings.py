"""MemoryWeb settings: one module, configured from the environment.

With no configuration the project uses the embedded PostgreSQL and Valkey that
`python -m memoryweb.embedded up` starts under `var/`. Every variable is listed
in README.md; a malformed value stops the process with a message naming it.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from memoryweb import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and not value >= minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}, got {raw!r}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.strip() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw.strip()


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


_PERIODS = {"second": 1, "minute": 60, "hour": 3600}


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate such as "600/minute" as (count, seconds)."""
    raw = os.environ.get(name) or default
    count, _, period = raw.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in _PERIODS:
        raise ImproperlyConfigured(
            f"{name} must look like 600/minute (periods: {', '.join(_PERIODS)}), got {raw!r}"
        )
    return int(count), _PERIODS[period.strip()]


def env_required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when MEMORYWEB_PRODUCTION is on")
    return value


PROFILE = embedded.get_profile()

# Production mode: nothing insecure by default, and what only the operator can know
# (the secret key, the host names) must come from the environment.
PRODUCTION = env_bool("MEMORYWEB_PRODUCTION", False)
DEVELOPMENT_SECRET_KEY = "memoryweb-insecure-development-key-do-not-use-in-production"
if PRODUCTION:
    SECRET_KEY = env_required("SECRET_KEY")
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "SECRET_KEY must be a random value of at least 50 characters in production "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    if env_bool("DEBUG", False):
        raise ImproperlyConfigured("DEBUG must be off when MEMORYWEB_PRODUCTION is on")
    DEBUG = False
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must be set when MEMORYWEB_PRODUCTION is on "
            "(comma-separated host names, e.g. memory.example.com)"
        )
else:
    SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
    DEBUG = env_bool("DEBUG", True)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("MEMORYWEB_CSRF_TRUSTED_ORIGINS", [])
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = PRODUCTION and env_bool("MEMORYWEB_SSL_REDIRECT", True)
# Health checks from the load balancer and the container come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$"]
SECURE_HSTS_SECONDS = env_int("MEMORYWEB_HSTS_SECONDS", 31_536_000) if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
# Preloading commits the whole domain to HTTPS for browsers' lifetimes: opt in only.
SECURE_HSTS_PRELOAD = PRODUCTION and env_bool("MEMORYWEB_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env_bool("MEMORYWEB_BEHIND_PROXY", False):
    # Only behind a proxy that sets this header itself (never passes a client's on).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
# Failed sign-ins per client address and per user name: "<count>/<period>".
LOGIN_RATE_LIMIT = env_rate("MEMORYWEB_LOGIN_RATE_LIMIT", "10/minute")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.spaces",
    "apps.memories",
    "apps.audit",
    "apps.jobs",
    "apps.retrieval",
    "apps.api",
    "apps.mcp",
    "apps.maps",
    "apps.consolidation",
    "apps.hygiene",
    "apps.dashboard",
    "apps.core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apps.core.unavailable.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.core.replicas.StickToPrimaryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.audit.middleware.RequestIdMiddleware",
    "apps.core.security.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "memoryweb.urls"

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
                "apps.dashboard.context.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "memoryweb.wsgi.application"

DATABASE_URL = env_str("DATABASE_URL", "") or PROFILE.database_url()
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL with the pgvector extension "
        f"(got engine {DATABASES['default']['ENGINE']})"
    )
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
    "DATABASE_CONNECT_TIMEOUT", 5
)
# pgvector search settings for every connection, so a vector query needs no extra
# round trips: iterative index scans (filtered queries still return k rows) and the
# candidate list size the search service assumes (it raises it per query when needed).
HNSW_EF_SEARCH = 100
DATABASES["default"]["OPTIONS"]["options"] = (
    f"-c hnsw.iterative_scan=relaxed_order -c hnsw.ef_search={HNSW_EF_SEARCH}"
)
# Spaces with fewer embedded memories than this are searched exactly (their own rows,
# read through the space index and sorted); a space that reaches it gets an HNSW index
# of its own (apps/retrieval/vector_indexes.py; docs/benchmarks.md, "Many tenants").
EXACT_SEARCH_BELOW = env_int("MEMORYWEB_EXACT_SEARCH_BELOW", 5000)
# A space with this many embedded memories has a graph that may outgrow memory (1.1 GB
# at a million): a filter that leaves few of its rows is sorted exactly, and its largest
# subjects, from SUBJECT_INDEX_MIN_ROWS memories, get indexes of their own
# (apps/retrieval/subject_indexes.py; docs/benchmarks.md, "A million memories"); 0
# builds no subject indexes, whose cost is a second HNSW insert per stored vector.
VERY_LARGE_SPACE = env_int("MEMORYWEB_VERY_LARGE_SPACE", 300_000)
SUBJECT_INDEX_MIN_ROWS = env_int("MEMORYWEB_SUBJECT_INDEX_MIN_ROWS", 5000)
# How memory embeddings are stored: `halfvec` (2 bytes a number: half the table, a 43%
# smaller HNSW index, LoCoMo recall unchanged; docs/benchmarks.md) or `vector` (4 bytes).
# Changing it on a database that holds vectors takes `manage.py vector_storage`
# (apps/retrieval/storage.py; docs/scaling.md).
VECTOR_STORAGE = env_choice("MEMORYWEB_VECTOR_STORAGE", "halfvec", ("vector", "halfvec"))
# Read replicas: each URL becomes the alias replica1, replica2, … with the primary's
# options. Nothing is routed to them silently: the reads that may be a moment stale
# (search, lists, the map, exports, the timeline) ask apps/core/replicas.py for an alias.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", [])
for number, replica_url in enumerate(DATABASE_REPLICA_URLS, start=1):
    try:
        replica = dj_database_url.parse(replica_url, conn_max_age=60)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS entry {number} is not a valid database URL: {exc}"
        ) from None
    if replica["ENGINE"] != DATABASES["default"]["ENGINE"] or not replica.get("NAME"):
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS entry {number} must be a PostgreSQL URL with a database "
            f"name, like DATABASE_URL (got engine {replica['ENGINE']})"
        )
    DATABASES[f"replica{number}"] = {
        **replica,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        # The test database is the primary's own, streamed to the replica.
        "TEST": {"MIRROR": "default"},
    }
# The aliases apps/core/replicas.py chooses among.
REPLICA_DATABASES = [f"replica{number}" for number in range(1, len(DATABASE_REPLICA_URLS) + 1)]
# After a write, the same person or token reads from the primary for this long, so
# that what they just wrote is what they see; a replica lagging more than the bound,
# or not answering, is skipped (the primary answers).
REPLICA_STICKY_SECONDS = env_int("MEMORYWEB_REPLICA_STICKY_SECONDS", 5)
REPLICA_MAX_LAG_SECONDS = env_float("MEMORYWEB_REPLICA_MAX_LAG_SECONDS", 30.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js comes from the plotly package itself: never from a CDN, always the version
# the Python side builds figures for.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("plotly", Path(str(find_spec("plotly").origin)).resolve().parent / "package_data"),  # type: ignore[union-attr]
]
STATIC_ROOT = Path(env_str("MEMORYWEB_STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
# The web process serves its own static files (WhiteNoise), in production as under
# `make run`: in production from STATIC_ROOT, compressed and with hashed names (run
# `manage.py collectstatic` first); elsewhere from the finders, each file looked up
# when asked for, so an edited file is served at once and nothing needs collecting.
MIDDLEWARE.insert(
    MIDDLEWARE.index("apps.core.unavailable.DatabaseUnavailableMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# ---------------------------------------------------------------- Celery
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or PROFILE.broker_url()
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes the database connection around every task unless told to reuse it: a
# new PostgreSQL backend for each short job (an access-log write, a small batch) cost
# more than the job. memoryweb/celery.py drops a failed or aged connection before each
# task instead, as Django does before each request.
CELERY_DB_REUSE_MAX = 500
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long a message taken by a worker that died stays invisible before it is
# delivered again (late acks): longer than the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("MEMORYWEB_BROKER_VISIBILITY_TIMEOUT", 3600)
}
# Separate queues so that deployments can give each kind of work its own workers
# (docker/compose.yaml); a worker started without -Q consumes all of them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [
    Queue(name) for name in ("celery", "embedding", "consolidation", "projection")
]
CELERY_TASK_ROUTES = {
    "apps.retrieval.tasks.embed_space": {"queue": "embedding"},
    "apps.retrieval.tasks.sweep_pending_embeddings": {"queue": "embedding"},
    "apps.retrieval.tasks.reembed": {"queue": "embedding"},
    "apps.consolidation.tasks.consolidate_space": {"queue": "consolidation"},
    "apps.consolidation.tasks.consolidate_all_spaces": {"queue": "consolidation"},
    "apps.maps.tasks.project_space": {"queue": "projection"},
    "apps.hygiene.tasks.scan_space": {"queue": "consolidation"},
    "apps.hygiene.tasks.scan_unscanned_spaces": {"queue": "consolidation"},
    "apps.retrieval.tasks.build_vector_index": {"queue": "consolidation"},
    "apps.retrieval.tasks.build_subject_indexes": {"queue": "consolidation"},
    "apps.retrieval.tasks.sync_vector_indexes": {"queue": "consolidation"},
    "apps.retrieval.tasks.measure_health": {"queue": "consolidation"},
    "apps.retrieval.tasks.measure_all_spaces": {"queue": "consolidation"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(PROFILE.root / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    # Picks up memories whose embedding message was lost (broker down, worker killed).
    "embedding-sweep": {
        "task": "apps.retrieval.tasks.sweep_pending_embeddings",
        "schedule": env_int("MEMORYWEB_EMBEDDING_SWEEP_SECONDS", 60),
    },
    # Adds the vectors whose graph job message was lost (apps/retrieval/graph.py).
    "graph-sweep": {
        "task": "apps.retrieval.tasks.sweep_graph_pending",
        "schedule": env_int("MEMORYWEB_EMBEDDING_SWEEP_SECONDS", 60),
    },
    "idempotency-cleanup": {
        "task": "apps.api.tasks.forget_old_idempotency_records",
        "schedule": 3600,
    },
    # Sleep-time consolidation: proposals for every space, once a day.
    "consolidation": {
        "task": "apps.consolidation.tasks.consolidate_all_spaces",
        "schedule": env_int("MEMORYWEB_CONSOLIDATION_SECONDS", 86_400),
    },
    # Flags stored content that the current hygiene scanner has not scanned yet.
    "hygiene-scan": {
        "task": "apps.hygiene.tasks.scan_unscanned_spaces",
        "schedule": 3600,
    },
    # Large spaces' own vector indexes: the builds a lost message missed, and the
    # indexes of deleted spaces (apps/retrieval/vector_indexes.py).
    "vector-indexes": {
        "task": "apps.retrieval.tasks.sync_vector_indexes",
        "schedule": 3600,
    },
    # Vector recall@10 of every space against an exact scan (the health panel).
    "retrieval-health": {
        "task": "apps.retrieval.tasks.measure_all_spaces",
        "schedule": env_int("MEMORYWEB_HEALTH_SECONDS", 7 * 86_400),
    },
}


# ---------------------------------------------------------------- Cache
# Rate-limit counters must be shared by every web process: with a Redis/Valkey broker
# they live there (its own key prefix); with RabbitMQ, set MEMORYWEB_CACHE_URL.
def _cache_url_beside(broker_url: str) -> str:
    """The broker's server, database 1: clearing the cache never touches the queues."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return ""
    return urlsplit(broker_url)._replace(path="/1").geturl()


CACHE_URL = env_str("MEMORYWEB_CACHE_URL", "") or _cache_url_beside(CELERY_BROKER_URL)
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": f"memoryweb-{PROFILE.name}",
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# ---------------------------------------------------------------- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.access.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.PerClientRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["apps.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.api.errors.handle_exception",
    # Which address is the client's: behind our proxy the last one it forwarded, else
    # the connection's (a client's own X-Forwarded-For is never believed).
    "NUM_PROXIES": 1 if env_bool("MEMORYWEB_BEHIND_PROXY", False) else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MemoryWeb API",
    "DESCRIPTION": "Memories for LLM agents: store, search, correct and audit.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MemoryKindEnum": "apps.memories.models.Kind",
        "EntityKindEnum": "apps.memories.models.Entity.EntityKind",
        "MemoryStatusEnum": "apps.memories.models.Status",
        "ProposalStatusEnum": "apps.consolidation.models.Proposal.Status",
        "JobStatusEnum": "apps.jobs.models.Job.Status",
    },
    "SECURITY": [{"bearerAuth": []}],
    "APPEND_COMPONENTS": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
}
# Requests per client (token, or signed-in user) per period: "<count>/<second|minute|hour>".
API_RATE_LIMIT = env_rate("MEMORYWEB_API_RATE_LIMIT", "1200/minute")
API_MAX_BATCH = env_int("MEMORYWEB_API_MAX_BATCH", 1000)
API_PAGE_SIZE = 50
API_MAX_PAGE_SIZE = 200
# Request bodies: a full batch of long memories fits; imports have their own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MEMORYWEB_MAX_REQUEST_BYTES", 25 * 1024 * 1024)
API_MAX_IMPORT_BYTES = env_int("MEMORYWEB_MAX_IMPORT_BYTES", 100 * 1024 * 1024)
API_IDEMPOTENCY_HOURS = env_int("MEMORYWEB_IDEMPOTENCY_HOURS", 24)

# ---------------------------------------------------------------- Memory model
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BACKEND = env_str("MEMORYWEB_EMBEDDING_BACKEND", "minilm")
EMBEDDING_BATCH_SIZE = env_int("MEMORYWEB_EMBEDDING_BATCH_SIZE", 64)
# Threads the local model may use per process; 0 leaves torch's default (every core).
EMBEDDING_THREADS = env_int("MEMORYWEB_EMBEDDING_THREADS", 0)
# The local model's matrix products: `auto` is bfloat16 where the CPU computes it
# natively (apps/retrieval/precision.py), float32 elsewhere.
EMBEDDING_PRECISION = env_choice(
    "MEMORYWEB_EMBEDDING_PRECISION", "auto", ("auto", "float32", "bfloat16")
)
# Load the model when a gunicorn worker or an embedding worker process starts (see
# memoryweb/gunicorn_conf.py and memoryweb/celery.py), not on its first query or batch.
EMBEDDING_WARM_UP = env_bool("MEMORYWEB_EMBEDDING_WARM_UP", True)
# Compile UMAP's kernels when a worker process that takes projection jobs starts
# (about 40 s of CPU, once per process), not in its first map job.
PROJECTION_WARM_UP = env_bool("MEMORYWEB_PROJECTION_WARM_UP", True)
OPENAI_BASE_URL = env_str("MEMORYWEB_OPENAI_BASE_URL", "")
OPENAI_API_KEY = env_str("MEMORYWEB_OPENAI_API_KEY", "")
OPENAI_EMBEDDING_MODEL = env_str("MEMORYWEB_OPENAI_EMBEDDING_MODEL", "")
OPENAI_EMBEDDING_DIMENSIONS = env_int("MEMORYWEB_OPENAI_EMBEDDING_DIMENSIONS", 384)
# A chat model at the same endpoint that may confirm or veto each merge and
# supersession consolidation proposes; empty: no language model is asked.
OPENAI_CHAT_MODEL = env_str("MEMORYWEB_OPENAI_CHAT_MODEL", "")
OPENAI_TIMEOUT_SECONDS = env_int("MEMORYWEB_OPENAI_TIMEOUT", 30)
SEARCH_VECTOR_WEIGHT = env_float("MEMORYWEB_SEARCH_VECTOR_WEIGHT", 1.0)
SEARCH_TEXT_WEIGHT = env_float("MEMORYWEB_SEARCH_TEXT_WEIGHT", 1.5)
SEARCH_RRF_K = env_int("MEMORYWEB_SEARCH_RRF_K", 5)
SEARCH_CONTEXT_NEXT = env_float("MEMORYWEB_SEARCH_CONTEXT_NEXT", 0.5)
SEARCH_CONTEXT_PREVIOUS = env_float("MEMORYWEB_SEARCH_CONTEXT_PREVIOUS", 0.3)
# Both candidate lists blend in each conversation memory's score read after the memory
# before it (memories.MemoryInContext), at this weight; 0 also stops computing those
# readings, which cost the embedding job a second text per conversation memory.
SEARCH_IN_CONTEXT_WEIGHT = env_float("MEMORYWEB_SEARCH_IN_CONTEXT_WEIGHT", 0.3, minimum=0)
# Conversation awareness, measured on LoCoMo (docs/evaluation.md).
SEARCH_SESSION_WEIGHT = env_float("MEMORYWEB_SEARCH_SESSION_WEIGHT", 0.2)
SEARCH_SUBJECT_WEIGHT = env_float("MEMORYWEB_SEARCH_SUBJECT_WEIGHT", 0.2)
SEARCH_GRAPH_WEIGHT = env_float("MEMORYWEB_SEARCH_GRAPH_WEIGHT", 0.0)
# Off until measured to help (docs/evaluation.md, "Recall feedback").
SEARCH_FEEDBACK_WEIGHT = env_float("MEMORYWEB_SEARCH_FEEDBACK_WEIGHT", 0.0)
# A memory marked not useful this many times, and more often than useful, is listed
# on its space's home as needing attention.
RECALL_NOT_USEFUL_ATTENTION = env_int("MEMORYWEB_RECALL_NOT_USEFUL_ATTENTION", 2)
# A hit found by meaning alone (no query word matched) with a cosine similarity under
# this is shown as a weak match: with MiniLM, unrelated text scores about 0.0 to 0.25.
SEARCH_WEAK_SIMILARITY = env_float("MEMORYWEB_SEARCH_WEAK_SIMILARITY", 0.3)
MEMORY_MAX_CONTENT_CHARS = env_int("MEMORYWEB_MAX_CONTENT_CHARS", 20_000)
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("MEMORYWEB_HEALTH_TIMEOUT", 2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
