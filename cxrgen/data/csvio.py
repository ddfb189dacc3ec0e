"""Streaming CSV (plain or .gz) with errors that name the file and line.

``rows(path, required)`` yields ``(line_number, row_dict)``; a missing column, a row with the wrong
number of fields, bytes that are not UTF-8 or a broken gzip stream raise one-line ``InputError``s.
"""

from __future__ import annotations

import csv
import gzip
import os
import zlib
from pathlib import Path
from typing import Iterable, Iterator

from cxrgen.errors import InputError


class _Lines:
    """Decode a binary line stream strictly, remembering the physical line number."""

    def __init__(self, path: Path, raw: Iterable[bytes]):
        self.path, self.raw, self.lineno = path, raw, 0

    def __iter__(self) -> Iterator[str]:
        for b in self.raw:
            self.lineno += 1
            try:
                yield b.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{self.path} line {self.lineno}: not UTF-8 text (byte {b[e.start]:#04x} at "
                                 f"column {e.start + 1}); re-export the file as UTF-8") from None


def open_binary(path: str | os.PathLike):
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})") from None
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=f, mode="rb")
    return f


def rows(path: str | os.PathLike, required: tuple[str, ...] = (), *, fix: str = "") -> Iterator[tuple[int, dict]]:
    path = Path(path)
    f = open_binary(path)
    lines = _Lines(path, f)
    reader = csv.reader(lines)
    try:
        with f:
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(f"{path} line 1: empty file, expected a header with {', '.join(required)}") from None
            header = [h.lstrip("\ufeff").strip() for h in header]
            missing = [c for c in required if c not in header]
            if missing:
                hint = f"; {fix}" if fix else ""
                raise InputError(f"{path} line 1: missing column(s) {', '.join(map(repr, missing))} "
                                 f"(found {', '.join(header[:12])}{'…' if len(header) > 12 else ''}){hint}")
            n = len(header)
            for row in reader:
                if not row:
                    continue
                if len(row) != n:
                    raise InputError(f"{path} line {reader.line_num}: {len(row)} fields, the header has {n}")
                yield reader.line_num, dict(zip(header, row))
    except (OSError, EOFError, zlib.error) as e:  # truncated / corrupt gzip
        if isinstance(e, InputError):
            raise
        raise InputError(f"{path} line {lines.lineno}: cannot read ({e}); the file looks truncated or "
                         "corrupt, download it again") from None
    except csv.Error as e:
        raise InputError(f"{path} line {reader.line_num}: malformed CSV ({e})") from None
