"""A database of its own for benchmarks, on the same PostgreSQL server as the app's database.

Large synthetic corpora (the retrieval latency benchmark builds 100,000 chunks) must never land
among users' collections. `separate_database(name)` creates the database when it is missing,
migrates it with Django's migrate, and points the default connection at it for the duration of
the block, the way Django's test runner points it at the test database; the previous database
is restored on exit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_database_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a plain database name (lower-case letters, digits, _)")
    return name


def _database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


@contextmanager
def separate_database(name: str) -> Iterator[None]:
    """Run the block with the default connection on database `name` (created and migrated)."""
    check_database_name(name)
    original = connection.settings_dict["NAME"]
    if name == original:
        raise ValueError(f"the benchmark database must not be the app's own database ({original})")
    if connection.in_atomic_block:
        raise RuntimeError("cannot switch databases inside a transaction")
    if not _database_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original


def database_drop(name: str) -> None:
    """Drop database `name` (never the one the default connection is configured for)."""
    check_database_name(name)
    if name == connection.settings_dict["NAME"]:
        raise ValueError("refusing to drop the database in use")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
