"""Helpers for the fault suite: run cxrgen in a subprocess, SIGKILL it at a chosen point, compare artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cxrgen.workspace.layout import Workspace
from cxrgen.workspace.status import workspace_status


@dataclass
class Case:
    """One row of docs/faults.md and one test (tests/faults/test_bad_inputs.py)."""
    name: str
    stage: str
    setup: Callable[[Path, Path], list]   # (tmp, pipeline workspace copy) -> cxrgen args, or ["python", fn]
    expect: str                           # regex in the one-line error, "ok", or "skip:<json path>=<n>"
    doc: str                              # outcome as documented
    # the exact exit code, required so that no case passes on "some error" (cxrgen/errors.py: 2 config,
    # 3 bad input, 4 upstream, 5 dependency, 6 write, 75 lock, 130 interrupted); recovered, accepted and
    # skip cases 0; a "python" case that returns normally 0, or the code of the process it ran itself
    code: int = field(kw_only=True)
    check: Callable | None = None         # (result, tmp, ws) -> None: more assertions (files kept, recovered state)
    corrupt: tuple[str, ...] = ()         # artifacts the case corrupts on purpose (status may say so)

    @property
    def skip(self) -> bool:
        return self.expect.startswith("skip:")


def cxrgen_cmd(ws: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cxrgen", "--workspace", str(ws), *map(str, args)]


# one intra-op thread everywhere: float results then do not depend on how many threads a process got
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(ws: Path, *args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cxrgen_cmd(ws, *args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **ENV, **(env or {})})


def run_and_kill(ws: Path, args: list[str], when: Callable[[], bool], timeout: float = 600,
                 env: dict | None = None) -> bool:
    """Start ``cxrgen ARGS``; SIGKILL it as soon as ``when()`` is true. Returns True if it was killed
    (False: it finished first, which the caller should treat as a test-design problem)."""
    p = subprocess.Popen(cxrgen_cmd(ws, *args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env={**os.environ, **ENV, **(env or {})})
    deadline = time.monotonic() + timeout
    try:
        while p.poll() is None:
            if when():
                p.send_signal(signal.SIGKILL)
                p.wait()
                return True
            if time.monotonic() > deadline:
                raise TimeoutError(f"cxrgen {' '.join(args)} did not reach the kill point in {timeout}s")
            time.sleep(0.02)
        return False
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def states(ws: Path) -> dict[str, str]:
    return {s.name: s.state for s in workspace_status(Workspace(ws))}


def manifest(ws: Path, *parts: str) -> dict:
    return json.loads(Path(ws, *parts, "manifest.json").read_text())
