"""Settings for both run modes, read from the environment.

Embedded (default, ``REDIS_URL`` unset): SQLite, a Celery worker inside the web process on
an in-memory broker, and an in-memory channel layer. Services: ``DATABASE_URL`` selects
PostgreSQL and ``REDIS_URL`` the Celery broker, result backend and ``channels_redis``.
The same code runs in both; only what is below differs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from arena.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("ARENA_DATA_DIR") or BASE_DIR / "var")

DEBUG = env_bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or "insecure-embedded-mode-key-set-DJANGO_SECRET_KEY"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql", "sqlite"))
EMBEDDED = not REDIS_URL

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "ninja",
    "arena",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "arena.middleware.refuse_nul",
    "arena.middleware.content_security_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "arena.urls"
ASGI_APPLICATION = "arena.serving.asgi.application"
WSGI_APPLICATION = None

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


def _sqlite(path: Path) -> dict[str, object]:
    # IMMEDIATE transactions take the write lock up front, so the web thread and the
    # embedded worker threads queue for it instead of failing with "database is locked";
    # WAL lets readers go on while one of them writes.
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # A file, not Django's shared-cache memory database: worker threads in the
        # integration tests need real locking, which shared-cache mode does not give.
        # Named per process so that two test runs on one machine never share it.
        "TEST": {"NAME": str(path.with_name(f"test_{os.getpid()}_{path.name}"))},
    }


# PostgreSQL connections per server or worker process, at most.
DB_POOL_SIZE = env_int("ARENA_DB_POOL_SIZE", 10, minimum=1)
# Alias -> settings, which gain keys below that dj_database_url's TypedDict does not know.
DATABASES: dict[str, Any]
if DATABASE_URL and not DATABASE_URL.startswith("sqlite"):
    # A connection pool per process: requests and worker tasks run in many threads, whose
    # persistent per-thread connections (CONN_MAX_AGE) would pile up until PostgreSQL
    # refuses new clients (measured in benchmarks/web_load.py); the pool reuses a few.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    # Named per process (like the SQLite one) so that two test runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        "timeout": 30,
    }
    # A pooled connection is tried before it is handed out (Django passes the pool
    # psycopg_pool's check): one that PostgreSQL terminated (a restart,
    # pg_terminate_backend) is replaced, not given to a request or a task.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASE_URL:
    DATABASES = {"default": _sqlite(Path(dj_database_url.parse(DATABASE_URL)["NAME"]))}
else:
    DATABASES = {"default": _sqlite(DATA_DIR / "arena.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Voters may sign in (optional): back to the tournaments after login or logout.
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serving straight from the finders keeps `make demo` free of a collectstatic step.
WHITENOISE_USE_FINDERS = True

# Celery: the in-memory broker lives inside the web process (arena.serving.embedded starts the
# worker threads); with Redis, separate `celery -A arena worker` processes consume it.
# A match claimed longer ago than this (counted from its claim or its last model call) is
# taken to belong to a dead worker: the sweep gives it back, and a task may claim it again.
MATCH_CLAIM_LEASE_SECONDS = env_int("ARENA_MATCH_LEASE_SECONDS", 240, minimum=1)
# How often the sweep looks for what a dead worker or a lost message left behind (beat in
# services mode, a timer thread in embedded mode). Lease + this is the longest stall.
SWEEP_SECONDS = env_int("ARENA_SWEEP_SECONDS", 30, minimum=1)
# The environment variables a contestant or judge may name as its key (shell patterns): the
# worker sends the variable's value to the model's server, so nothing else may be named.
# How long a new API token lasts unless its maker says (create_api_token --days; 0: never).
# The planner's simulated truths per plan (arena.services.plans): more is steadier and
# slower (a worker's minutes at 20 and M = 20).
PLAN_TRUTHS = env_int("ARENA_PLAN_TRUTHS", 20, minimum=1)
API_TOKEN_DAYS = env_int("ARENA_API_TOKEN_DAYS", 90, minimum=0)
KEY_VARIABLES = env_list("ARENA_KEY_VARIABLES", ["*_API_KEY", "ARENA_KEY_*"])
# Networks a model's base URL may not point into (arena.outbound; this server's own
# database and Redis are refused too). Link-local by default: where clouds serve instance
# metadata and credentials.
MODEL_HOSTS_DENY = env_list("ARENA_MODEL_HOSTS_DENY", ["169.254.0.0/16", "fe80::/10"])
# Likewise for an answer being generated (arena.models.AnswerClaim): matches that need it
# wait this long at most for a worker that vanished mid-generation. Half the match lease by
# default: longer than a generation can take (the clients time out after 60 s), and short
# enough that a waiting match takes the generation over before its own claim runs out.
ANSWER_CLAIM_LEASE_SECONDS = env_int(
    "ARENA_ANSWER_LEASE_SECONDS", max(MATCH_CLAIM_LEASE_SECONDS // 2, 1), minimum=1
)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"arena.tasks.play_match": {"queue": "judge"}}
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"polling_interval": 0.05}
    if EMBEDDED
    # A task a dead worker had taken comes back after this (Redis keeps it unacknowledged);
    # a little over the claim lease, so that by then its match may be claimed again. Longer
    # than any retry's countdown (at most 120 s), which Redis also holds unacknowledged.
    else {"visibility_timeout": MATCH_CLAIM_LEASE_SECONDS + 60}
)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-tournaments": {"task": "arena.tasks.sweep_tournaments", "schedule": SWEEP_SECONDS},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# First retry delay after a transient model error; doubles each time, with jitter.
RETRY_BASE_SECONDS = float(env_int("ARENA_RETRY_BASE_MS", 2000, minimum=1)) / 1000
# Vote limits per voter (session or user) and per IP address; 0 turns a limit off.
VOTES_PER_MINUTE = env_int("ARENA_VOTES_PER_MINUTE", 30, minimum=0)
VOTES_PER_DAY = env_int("ARENA_VOTES_PER_DAY", 1000, minimum=0)
VOTES_PER_IP_PER_DAY = env_int("ARENA_VOTES_PER_IP_PER_DAY", 5000, minimum=0)
# Leaderboard ratings on fewer verdicts than this are marked preliminary (LMArena: 300).
MIN_VERDICTS = env_int("ARENA_MIN_VERDICTS", 300, minimum=0)
EMBEDDED_WORKER_THREADS = env_int("ARENA_EMBEDDED_WORKERS", 4, minimum=1)
# HTTP requests running in Django at once per server process (arena.serving.asgi.BoundedHTTP);
# 0: as many as the process's threads, one per database connection (DB_POOL_SIZE).
HTTP_CONCURRENCY = env_int("ARENA_HTTP_CONCURRENCY", 2, minimum=0)
# Services mode: vote.js's JSON votes are counted from the event loop (arena.serving.fastvote);
# off, Django answers them all.
FAST_VOTES = bool(DATABASE_URL.startswith("postgres") and REDIS_URL) and env_bool(
    "ARENA_FAST_VOTES", True
)

# The cache debounces live leaderboard refits across processes (services) or threads.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "arena",
            "OPTIONS": {"pool_class": "arena.serving.caches.SharedConnectionPool"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if REDIS_URL:
    # Sessions are read on every request (anonymous voters have one too): from Redis they
    # cost no SQL, and the database still keeps them (written when one is created or
    # changed, read when Redis has lost it).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

if REDIS_URL:
    # Events go over Redis pub/sub: a publish is one PUBLISH, and each web process reads
    # its watchers' events in bulk from one subscription. The list-based layer
    # (channels_redis.core) pops one message per round trip per process, which fell behind
    # under the web-load benchmark's vote rate (events seconds late; benchmarks/README.md,
    # "Web load", C = 32, has the figures). Live events are at most once either way.
    # redis-py 8 reads with a 5 s socket timeout by default, which once dropped quiet
    # sockets (tests/arena/test_consumers.py); the timeout stays, and longer.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "arena.serving.channel_layers.ThreadSafeInMemoryChannelLayer"}
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("ARENA_LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # One line per task is noise at demo scale; failures still show.
        "celery": {"level": env_str("ARENA_CELERY_LOG_LEVEL", "WARNING")},
        "kombu": {"level": "ERROR"},
        # The model clients log every request at INFO: hundreds of lines per tournament
        # that bury its progress. Their warnings (retries, bad responses) still show.
        **{
            name: {"level": "WARNING"}
            for name in ("httpx", "httpx2", "httpcore", "httpcore2", "openai")
        },
    },
}
