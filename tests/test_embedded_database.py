"""The embedded PostgreSQL 18: an old data directory is refused, and production's image matches it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from config.embedded_db import DataDirectoryError, data_directory_check

ROOT = Path(__file__).resolve().parent.parent


def _old_data_directory(var_dir: Path) -> Path:
    pgdata = var_dir / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("16\n")
    (pgdata / "postgresql.conf").write_text("# made by PostgreSQL 16\n")
    return pgdata


def _local_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FOOTNOTE_EMBEDDED_DB", "PYTEST_VERSION")}
    env["FOOTNOTE_VAR_DIR"] = str(var_dir)
    return env


def test_a_data_directory_of_another_major_version_is_refused_and_left_as_it_is(tmp_path):
    pgdata = _old_data_directory(tmp_path)
    with pytest.raises(DataDirectoryError, match=r"PostgreSQL 16 database.*PostgreSQL 18.*Upgrading the embedded database"):
        data_directory_check(pgdata)
    assert sorted(p.name for p in pgdata.iterdir()) == ["PG_VERSION", "postgresql.conf"]
    data_directory_check(tmp_path / "none-yet")  # a new one is fine


@pytest.mark.parametrize("command", [["manage.py", "check"], ["-m", "config.supervisor"]])
def test_manage_py_and_make_run_say_what_to_do_with_an_old_data_directory(tmp_path, command):
    pgdata = _old_data_directory(tmp_path)
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=_local_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "holds a PostgreSQL 16 database" in output and "README.md" in output
    assert "Traceback" not in output
    assert (pgdata / "PG_VERSION").read_text() == "16\n" and not (pgdata / "postmaster.pid").exists()


@pytest.mark.django_db
def test_the_production_database_image_has_the_embedded_servers_versions():
    dockerfile = (ROOT / "docker" / "postgres" / "Dockerfile").read_text()
    pgvector, major = re.search(r"^FROM pgvector/pgvector:([\d.]+)-pg(\d+)", dockerfile, re.M).groups()  # type: ignore[union-attr]
    textsearch = re.search(r"^ARG PG_TEXTSEARCH_VERSION=([\d.]+)", dockerfile, re.M).group(1)  # type: ignore[union-attr]
    assert "shared_preload_libraries=pg_textsearch" in dockerfile
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
        assert str(cursor.fetchone()[0]) == major
        cursor.execute("SELECT extname, extversion FROM pg_extension WHERE extname IN ('vector', 'pg_textsearch')")
        assert dict(cursor.fetchall()) == {"vector": pgvector, "pg_textsearch": textsearch}
