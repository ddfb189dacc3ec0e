"""Bounds on knobs that multiply processes: worker counts never exceed the CPUs this process may use.

``embed --workers 100000`` once forked over a thousand decoders and set off the kernel's OOM killer for
the whole machine; a worker count is therefore capped (with a warning) at the CPUs in the process's
affinity mask (``os.sched_getaffinity``; what taskset, cgroups cpusets and SLURM grant).
"""

from __future__ import annotations

import os

from cxrgen.utils.log import log

_warned: set[tuple[str, int, int]] = set()


def available_cpus() -> int:
    """CPUs this process may run on (affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def cap_workers(n: int, what: str = "workers") -> int:
    """``n`` capped at :func:`available_cpus`, warning once per value when capped."""
    cpus = available_cpus()
    if n <= cpus:
        return n
    if (what, n, cpus) not in _warned:
        _warned.add((what, n, cpus))
        log.warning("%s=%d is more than the %d CPU(s) available to this process; using %d", what, n, cpus, cpus)
    return cpus
