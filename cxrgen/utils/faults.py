"""Public fault injection: the environment variable ``CXRGEN_FAIL_AT`` names a step at which the
process dies, so tests (and operators rehearsing a requeue) can interrupt a stage at an exact point
without patching its code, then check its manifests and outputs.

    CXRGEN_FAIL_AT=POINT[:N][:kill]

The N-th time (default 1) this process passes ``POINT`` it raises :class:`FaultInjected` (a
``KeyboardInterrupt``: the CLI prints its one line and exits 130, the work folder stays for resume),
or with ``kill`` sends itself SIGKILL (a crash that runs no cleanup at all). Points, each reached just
after the work it names is safely on disk:

=====================  ======================================================================
``embed.shard``        a shard of features was written (``shard-*.npz`` in the work folder)
``train.step``         an optimizer step finished (and its checkpoint, when one was due)
``generate.batch``     a batch of predictions was appended to ``preds.jsonl``
=====================  ======================================================================
"""

from __future__ import annotations

import os
import signal

ENV = "CXRGEN_FAIL_AT"
POINTS = ("embed.shard", "train.step", "generate.batch")
_seen: dict[str, int] = {}
_spec: str | None = None


class FaultInjected(KeyboardInterrupt):
    """Raised at the step named by ``CXRGEN_FAIL_AT``."""


def reached(point: str) -> None:
    """Count a pass through ``point``; die here if ``CXRGEN_FAIL_AT`` asks for this pass."""
    global _spec
    spec = os.environ.get(ENV, "")
    if not spec:
        return
    if spec != _spec:  # a new setting starts a new count
        _spec = spec
        _seen.clear()
    name, *rest = spec.split(":")
    if name != point:
        return
    nth = int(rest[0]) if rest and rest[0].isdigit() else 1
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] != nth:
        return
    if "kill" in rest:
        os.kill(os.getpid(), signal.SIGKILL)
    raise FaultInjected(f"{ENV}={spec}")
