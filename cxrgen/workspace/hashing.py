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


def dir_signature(path: str | os.PathLike) -> str:
    """Cheap signature of a directory tree: relative paths, sizes and mtimes (not contents).

    Used for raw-input trees too large to hash on every status call (e.g. 377k MIMIC JPEGs);
    a stage that reads file contents anyway should hash what it read instead.
    """
    root = Path(path)
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath, name)
            st = p.stat()
            h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def raw_input(path: str | os.PathLike, *, content: bool = True) -> dict:
    """Describe a raw input file or directory for a manifest (path, hash, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    if p.is_dir():
        return {"kind": "dir", "path": str(p), "signature": dir_signature(p)}
    return {"kind": "file", "path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": file_sha256(p) if content else None}
