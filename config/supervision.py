"""What the supervisor of `make run` (config.supervisor) knows about its processes, kept where
/health can read it: the restart backoff, each process's state, and var/supervisor.json."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

FAST_FAILURE_SECONDS = 30
FAST_FAILURES = 5
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 30.0
STATE_FILE = "supervisor.json"


@dataclass
class Backoff:
    """Delay before the next restart: doubling from FIRST_DELAY_SECONDS up to MAX_DELAY_SECONDS
    while the process keeps dying within `fast_seconds` of its start, back to the first delay
    after a run that lasted longer. `gave_up` after `fast_failures` fast failures in a row."""

    fast_seconds: int = FAST_FAILURE_SECONDS
    fast_failures: int = FAST_FAILURES
    in_a_row: int = 0

    def failed(self, *, ran_for: float) -> float:
        self.in_a_row = self.in_a_row + 1 if ran_for < self.fast_seconds else 1
        return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (self.in_a_row - 1))

    @property
    def gave_up(self) -> bool:
        return self.in_a_row >= self.fast_failures


@dataclass
class ProcessState:
    name: str
    pid: int = 0
    restarts: int = 0
    running: bool = False
    started_at: str = ""
    last_exit_code: int | None = None
    last_exit_at: str = ""
    started_monotonic: float = field(default=0.0, repr=False)

    def started(self, pid: int) -> None:
        self.pid, self.running, self.started_at = pid, True, _now()
        self.started_monotonic = time.monotonic()

    def exited(self, code: int | None) -> None:
        self.running, self.last_exit_code, self.last_exit_at = False, code, _now()

    def as_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "running": self.running, "restarts": self.restarts, "started_at": self.started_at,
                "last_exit_code": self.last_exit_code, "last_exit_at": self.last_exit_at}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def state_write(path: Path, states: list[ProcessState]) -> None:
    """Replace `path` with the supervisor's pid and each process's state (atomically: a reader
    never sees half a file)."""
    body = {"supervisor_pid": os.getpid(), "updated_at": _now(), "processes": {s.name: s.as_dict() for s in states}}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(body, indent=2))
    partial.replace(path)


def state_read(path: Path) -> dict[str, Any] | None:
    """What a running supervisor last wrote to `path`; None without a file, or when the
    supervisor that wrote it is gone (the file of a crashed run)."""
    try:
        body = json.loads(path.read_text())
        os.kill(int(body["supervisor_pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return body if isinstance(body, dict) else None
