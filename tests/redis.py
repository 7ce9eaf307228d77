"""Whether a Redis server answers on 127.0.0.1:6379 (tests of the production broker and cache
path run only where one does)."""

from __future__ import annotations

import socket


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
