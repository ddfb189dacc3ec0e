"""Atomic writes and JSON-lines helpers. Nothing half-written is ever left under a final name."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from cxrgen.errors import InputError, WorkspaceWriteError


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0o666 minus the umask. mkstemp makes 0600
    files, so atomic writes are chmod-ed to this and every artifact file gets the same permissions."""
    try:  # Linux: read it without the set-and-restore race of os.umask
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise write_error(path, e) from e
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), file_mode())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except OSError as e:
        tmp_path.unlink(missing_ok=True)
        raise write_error(path, e) from e
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


_WHY = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied",
        errno.EDQUOT: "the disk quota is exceeded", errno.ENAMETOOLONG: "the file name is too long"}


def write_error(path: Path, e: OSError) -> WorkspaceWriteError:
    why = _WHY.get(e.errno, e.strerror or str(e))
    return WorkspaceWriteError(f"{path}: cannot write ({why}); free space or choose another --workspace")


def os_error(e: OSError, path: str | os.PathLike | None = None) -> WorkspaceWriteError:
    """The one user-facing form of an OSError: names the file (``path``, else the error's own), the
    problem in words and the fix. Used by the CLI for any OSError a stage did not translate itself."""
    name = path if path is not None else e.filename
    why = _WHY.get(e.errno, e.strerror or str(e) or type(e).__name__)
    if e.errno in _WHY and e.errno != errno.ENAMETOOLONG:
        why = f"cannot write ({why})"
    fix = {errno.ENOSPC: "free space or choose another --workspace", errno.EDQUOT: "free space or choose another --workspace",
           errno.EROFS: "choose a writable --workspace", errno.ENOENT: "it vanished while cxrgen ran; re-run the command",
           errno.ENAMETOOLONG: "use shorter names"}.get(e.errno, "check the path and re-run")
    if name is None:
        return WorkspaceWriteError(f"{why} (the system named no file); {fix}; previous artifacts are untouched")
    name = os.fsdecode(name) if isinstance(name, bytes) else str(name)
    return WorkspaceWriteError(f"{name}: {why}; {fix}; previous artifacts are untouched")


@contextlib.contextmanager
def naming_path(path: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError (or a library's I/O error that carries no file name) inside the block into the
    one-line error naming ``path``."""
    try:
        yield
    except WorkspaceWriteError:
        raise
    except OSError as e:
        raise os_error(e, path) from e


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Write rows atomically; returns the count."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
            n += 1
    return n


def iter_text_lines(path: str | os.PathLike, max_line_bytes: int | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file; a missing file, a folder, non-UTF-8 bytes or a line over
    ``max_line_bytes`` (read no further than that: a single huge line cannot exhaust memory) are
    InputErrors naming the line."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        lineno = 0
        while True:
            raw = f.readline(max_line_bytes + 1) if max_line_bytes else f.readline()
            if not raw:
                break
            lineno += 1
            if max_line_bytes and len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                raise InputError(f"{path} line {lineno}: longer than {max_line_bytes} bytes; "
                                 "a line holds one record, not a whole file")
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path} line {lineno}: not valid UTF-8 text (byte {e.start}); "
                                 "save the file as UTF-8") from None


def iter_json_lines(path: str | os.PathLike, required: tuple[str, ...] = (),
                    max_line_bytes: int | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) per non-blank line; malformed or too deeply nested JSON, a line over
    ``max_line_bytes`` or missing fields name the line."""
    for lineno, line in iter_text_lines(path, max_line_bytes):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path} line {lineno}: not valid JSON ({e.msg.removesuffix(' at')} at column "
                               f"{min(e.pos, len(line.rstrip())) + 1}); "
                               "fix or remove the line") from None
        except RecursionError:
            raise InputError(f"{path} line {lineno}: JSON nested too deeply; fix or remove the line") from None
        if not isinstance(row, dict):
            raise InputError(f"{path} line {lineno}: expected a JSON object, got {type(row).__name__}")
        missing = [k for k in required if k not in row]
        if missing:
            raise InputError(f"{path} line {lineno}: missing field(s) {', '.join(map(repr, missing))}")
        yield lineno, row


def read_jsonl(path: str | os.PathLike, required: tuple[str, ...] = ()) -> Iterator[dict]:
    """Yield JSON objects; a malformed line or a missing required field is an InputError naming the line."""
    for _, row in iter_json_lines(path, required):
        yield row


def safe_join(root: str | os.PathLike, rel: str, *, what: str = "path") -> Path:
    """Join ``rel`` under ``root``, refusing absolute paths and ``..`` that escape it."""
    root_p = Path(root).resolve()
    p = (root_p / rel).resolve()
    if Path(rel).is_absolute() or (p != root_p and root_p not in p.parents):
        raise InputError(f"{what} {rel!r} escapes its root {root_p}; paths in records must stay inside the data set root")
    return p
