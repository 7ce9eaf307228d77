"""How many intra-op threads torch and onnxruntime get (EMBEDDING_THREADS, or a share of the cores)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from django.conf import settings


def available_cores() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def configured_threads(*, share: int = 1) -> int:
    """EMBEDDING_THREADS, or (0, the default) the available cores split between `share` processes."""
    if settings.EMBEDDING_THREADS:
        return int(settings.EMBEDDING_THREADS)
    return max(1, available_cores() // max(1, share))


def torch_threads_apply(threads: int | None = None) -> None:
    """Set torch's process-wide intra-op threads (default configured_threads(); one thread each is
    what a shared, busy machine wants: EMBEDDING_THREADS=1)."""
    import torch  # heavy: only the processes that run a torch model pay for it

    torch.set_num_threads(threads if threads is not None else configured_threads())
