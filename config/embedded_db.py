"""The embedded PostgreSQL 16 + pgvector used when DATABASE_URL is unset.

`pgserver` ships the server binaries in a wheel. Every process that calls `ensure_running`
registers itself as a user of the data directory; the server stops when the last registered
process exits, so a lone `python manage.py ...` starts and stops it on its own, while
`make run` (config.supervisor) keeps it alive for the web server and the worker it starts.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

DATABASE_NAME = "footnote"

_uri: str | None = None


def ensure_running(data_dir: Path) -> str:
    """Start (or join) the embedded server, create the app database, return its URI."""
    global _uri
    if _uri is not None:
        return _uri
    import warnings

    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its fallback is fine.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver  # imported lazily: production never needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    _uri = server.get_uri(database=DATABASE_NAME)
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
