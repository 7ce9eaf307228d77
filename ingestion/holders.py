"""Which worker child holds a processing document, and whether it is still alive.

A child records its machine and pid when it claims a document. A child on this machine whose pid
is gone died mid-task (killed, out of memory): its document is free at once, not after the hard
time limit. A holder on another machine cannot be checked from here; its document is free once the
hard time limit has passed, as before.
"""

from __future__ import annotations

import os
import socket


def this_holder() -> tuple[str, int]:
    """(machine, pid) of the calling process."""
    return socket.gethostname(), os.getpid()


def holder_dead(host: str, pid: int | None) -> bool:
    """Whether the holder (host, pid) is known to be gone: on this machine, a pid that no longer
    exists, or this very process (one child runs one task at a time, so a document it still holds
    is left from a run that did not finish). Unknown holders are not declared dead."""
    if not host or pid is None or host != socket.gethostname():
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, owned by another user
        return False
    return False
