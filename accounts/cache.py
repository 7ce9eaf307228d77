"""The local cache for `make run`: Django's DatabaseCache with an atomic `incr`.

Rate-limit counters must be shared by every gunicorn worker (LocMemCache is per process: with
2 workers each user would get twice the limit) and survive a restart; the embedded Postgres is
already there, so no extra server is needed. Django's own DatabaseCache.incr reads, then writes
with a fresh default timeout: two processes can lose an increment, and a counter would outlive
its window. This one locks the row and keeps the key's expiry. Production uses Redis (CACHE_URL).
"""

from __future__ import annotations

import math
from typing import Any

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction


class LockingDatabaseCache(DatabaseCache):
    _table: str  # set by DatabaseCache.__init__ (the stubs do not declare it)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        table = connection.ops.quote_name(self._table)
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT EXTRACT(EPOCH FROM expires - clock_timestamp()) FROM {table} WHERE cache_key = %s FOR UPDATE",
                [self.make_and_validate_key(key, version=version)],
            )
            row = cursor.fetchone()
            value = self.get(key, self._missing_key, version=version)
            if row is None or value is self._missing_key or row[0] <= 0:
                raise ValueError(f"Key '{key}' not found")
            self.set(key, value + delta, timeout=max(1, math.ceil(row[0])), version=version)
            return int(value + delta)
