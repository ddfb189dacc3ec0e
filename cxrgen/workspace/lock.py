"""A per-artifact lock file against two writers, usable on shared (NFS) file systems.

``O_CREAT | O_EXCL`` is atomic on NFSv3+ and local disks alike, unlike flock. The file holds
host and pid; a lock left by a dead process on this host is taken over, one from another host
must be removed by hand (the error says how).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from cxrgen.errors import WorkspaceLockedError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ArtifactLock:
    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self.held = False

    def acquire(self) -> "ArtifactLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("host") == me["host"] and not _alive(int(holder.get("pid", -1))):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                if holder is None:  # being written this instant, or garbage: treat as held
                    holder = {}
                raise WorkspaceLockedError(
                    f"{self.what} is being written by pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
                    f"({self.path}); wait for it, or delete that file if the process is gone") from None
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise WorkspaceLockedError(f"could not lock {self.path}")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "ArtifactLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
