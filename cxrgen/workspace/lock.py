"""A per-artifact lock file against two writers, usable on shared (NFS) file systems.

``O_CREAT | O_EXCL`` is atomic on NFSv3+ and local disks alike, unlike flock. The file holds
host and pid; a lock left by a dead process on this host is taken over, one from another host
must be removed by hand (the error says how). The holder also keeps an ``flock`` on the open file,
so a lock whose content is empty, unreadable or not ours (e.g. created on a full disk and never
written) is judged by whether any process still holds it and by its age, never kept forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from cxrgen.errors import WorkspaceLockedError
from cxrgen.utils.io import write_error

# a lock file younger than this may be one that its creator is still writing
GRACE_S = 10.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _parse(text: str) -> dict | None:
    """host/pid of a lock file, or None when the content is empty or not a cxrgen lock."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("pid"), int) or not isinstance(doc.get("host"), str):
        return None
    return doc


def _unheld(path: Path) -> bool | None:
    """True if no process holds an flock on ``path``, False if one does, None if it cannot be told."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


class ArtifactLock:
    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self.what = what
        self.held = False
        self._fd: int | None = None

    def stale_reason(self) -> str | None:
        """Why the existing lock file can be taken over, or None if it must be respected."""
        try:
            st = self.path.stat()
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return "gone"
        except OSError:
            text, st = "", None
        holder = _parse(text)
        unheld = _unheld(self.path)
        age = time.time() - st.st_mtime if st else 0.0
        if holder and holder["host"] == socket.gethostname():
            if not _alive(holder["pid"]):
                return f"pid {holder['pid']} is gone"
            # a live cxrgen holder keeps its flock: a live pid without one is a reused pid
            return f"pid {holder['pid']} does not hold it (pid reused)" if unheld and age > GRACE_S else None
        if holder is None and unheld and age > GRACE_S:
            return f"empty or unreadable lock, {age:.0f} s old, held by no process"
        return None

    def acquire(self) -> "ArtifactLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise write_error(self.path.parent, e) from None
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                if self.stale_reason():
                    self.path.unlink(missing_ok=True)
                    continue
                holder = _parse(self._text()) or {}
                raise WorkspaceLockedError(
                    f"{self.what} is being written by pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
                    f"({self.path}); wait for it, or delete that file if the process is gone") from None
            except OSError as e:
                raise write_error(self.path, e) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.write(fd, json.dumps(me).encode())
                os.fsync(fd)
            except OSError as e:  # e.g. the disk filled up between create and write: leave no empty lock
                os.close(fd)
                self.path.unlink(missing_ok=True)
                if isinstance(e, BlockingIOError):
                    continue
                raise write_error(self.path, e) from None
            self._fd = fd
            self.held = True
            return self
        raise WorkspaceLockedError(f"could not lock {self.path}; another process keeps taking it, retry")

    def _text(self) -> str:
        try:
            return self.path.read_text(errors="replace")
        except OSError:
            return ""

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ArtifactLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
