"""Stable hashes: JSON values, files (streamed) and raw input signatures."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def json_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tree_lines(root: str, top: str) -> list[bytes]:
    """``rel\0size\0mtime_ns`` lines of every file under ``top`` in os.walk order (sorted)."""
    out = []
    cut = len(root) + 1
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        rel_dir = dirpath[cut:].replace(os.sep, "/")
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            rel = f"{rel_dir}/{name}" if rel_dir else name
            out.append(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return out


def dir_signature(path: str | os.PathLike) -> str:
    """Cheap signature of a directory tree: relative paths, sizes and mtimes (not contents).

    Used for raw-input trees too large to hash on every status call (e.g. 227k MIMIC report files);
    a stage that reads file contents anyway should hash what it read instead. The top-level
    subfolders are walked by a few threads (stat latency overlaps; the GIL is released), and the
    lines are hashed in ``os.walk`` order (names sorted), so the value does not depend on threading.
    """
    from concurrent.futures import ThreadPoolExecutor
    root = os.path.abspath(os.fspath(path))
    h = hashlib.sha256()
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    subdirs = [e.path for e in entries if e.is_dir() and not e.is_symlink()]
    for e in entries:
        if not e.is_dir():
            st = os.stat(e.path)
            h.update(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    with ThreadPoolExecutor(8) as ex:
        for lines in ex.map(lambda top: _tree_lines(root, top), subdirs):
            for line in lines:
                h.update(line)
    return h.hexdigest()


def raw_input(path: str | os.PathLike, *, content: bool = True) -> dict:
    """Describe a raw input file or directory for a manifest (path, hash, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    if p.is_dir():
        return {"kind": "dir", "path": str(p), "signature": dir_signature(p)}
    return {"kind": "file", "path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": file_sha256(p) if content else None}
