"""Folders cxrgen writes outside an artifact (e.g. the synthetic data set) and may later replace.

cxrgen deletes only what it can prove it wrote: such a folder holds a marker file (JSON) with the
parameters it was made with and the list of every file it made. A folder is replaced only when its
marker is readable and every file in the folder is either the marker or listed in it; anything else
(a folder without a marker, a marker that is not ours, a file the user added) is an error naming the
folder. A work folder ``<name>.partial`` carries its own ownership file from the moment it is
created, so only a work folder cxrgen started is ever cleared.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cxrgen.errors import InputError

PARTIAL_OWNER = ".cxrgen-partial"


def listed_files(folder: Path) -> list[str]:
    """Every file under ``folder`` as a sorted relative POSIX path (symlinks count as files)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel = Path(dirpath).relative_to(folder)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            out.append((rel / name).as_posix())
    return sorted(out)


def write_marker(folder: Path, marker: str, params: dict) -> None:
    """Write ``marker`` into ``folder`` listing every file there (call after the last file is written)."""
    files = [f for f in listed_files(folder) if f not in (marker, PARTIAL_OWNER)]
    (Path(folder) / marker).write_text(json.dumps({"params": params, "files": files, "written_by": "cxrgen"},
                                                  sort_keys=True) + "\n", encoding="utf-8")


def read_marker(folder: Path, marker: str) -> dict | None:
    """The marker's content if it is a cxrgen marker (params + files), else ``None``."""
    try:
        doc = json.loads((Path(folder) / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and doc.get("written_by") == "cxrgen" and isinstance(doc.get("files"), list)
            and all(isinstance(f, str) for f in doc["files"])):
        return None
    return doc


def intact(folder: Path, marker: str, params: dict) -> bool:
    """True if ``folder`` was made by cxrgen with ``params`` and every file it made is still there."""
    doc = read_marker(folder, marker)
    return bool(doc) and doc.get("params") == params and all((Path(folder) / f).is_file() for f in doc["files"])


def check_replaceable(folder: Path, marker: str, what: str = "folder") -> None:
    """Raise InputError unless ``folder`` is absent, empty, or provably cxrgen's (see module doc)."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise InputError(f"{folder}: exists and is not a folder cxrgen made; choose another {what}")
    present = listed_files(folder)
    if not present and not any(folder.iterdir()):
        return
    doc = read_marker(folder, marker)
    if doc is None:
        raise InputError(f"{folder}: not empty and not written by cxrgen (no valid {marker}); nothing was deleted; "
                         f"choose another {what} or empty it yourself")
    ours = set(doc["files"]) | {marker}
    foreign = [f for f in present if f not in ours]
    if foreign:
        raise InputError(f"{folder}: holds {len(foreign)} file(s) cxrgen did not write (e.g. {foreign[0]!r}); "
                         f"nothing was deleted; choose another {what} or move those files")


def remove_owned(folder: Path, marker: str, what: str = "folder") -> None:
    """Delete a folder cxrgen made (checked by :func:`check_replaceable`); anything foreign is an error."""
    check_replaceable(folder, marker, what)
    if Path(folder).exists():
        shutil.rmtree(folder)


def start_partial(folder: Path) -> None:
    """Create the work folder ``folder`` (``<name>.partial``) with its ownership file, clearing an old
    one only if cxrgen started it; a foreign folder of that name is an error."""
    folder = Path(folder)
    if folder.exists():
        if not (folder / PARTIAL_OWNER).is_file():
            raise InputError(f"{folder}: exists and was not started by cxrgen; nothing was deleted; "
                             "move it away and re-run")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / PARTIAL_OWNER).write_text(json.dumps({"pid": os.getpid()}) + "\n")


def finish_partial(folder: Path, marker: str, params: Any) -> None:
    """Drop the ownership file and write the marker listing the files made."""
    (Path(folder) / PARTIAL_OWNER).unlink(missing_ok=True)
    write_marker(folder, marker, params)
