"""The base of the app's own management commands that read or write its tables.

On a fresh var/ (or after pulling new migrations) such a command used to fail with "relation ...
does not exist" until `manage.py migrate` had run. Django's hook for this,
`requires_migrations_checks`, only prints a warning and lets the command fail; `AppCommand` uses
the same hook to apply the pending migrations instead, saying so in one line on stderr (stdout
may be a command's data, e.g. an export).
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, OutputWrapper
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration


def migrations_pending(*, database: str = DEFAULT_DB_ALIAS) -> list[Migration]:
    """The migrations `manage.py migrate` would apply to `database`, in order (none: up to date)."""
    executor = MigrationExecutor(connections[database])
    return [migration for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())]


def migrations_apply_pending(*, out: OutputWrapper, database: str = DEFAULT_DB_ALIAS) -> int:
    """Run `migrate` on `database` when it has pending migrations; returns how many there were."""
    pending = migrations_pending(database=database)
    if pending:
        out.write(f"The database has {len(pending)} unapplied migration(s): running migrate first.")
        call_command("migrate", database=database, interactive=False, verbosity=0)
    return len(pending)


class AppCommand(BaseCommand):
    """A BaseCommand whose database is migrated before `handle` runs (also under call_command)."""

    requires_migrations_checks = True

    def check_migrations(self) -> None:
        migrations_apply_pending(out=self.stderr)
        # The database cache's table (rate limits, the answer cache) when that is the cache in use;
        # createcachetable does nothing for other backends or a table that exists.
        call_command("createcachetable", verbosity=0)
