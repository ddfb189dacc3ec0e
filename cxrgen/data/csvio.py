"""Streaming CSV (plain or .gz) with errors that name the file and line.

``rows(path, required)`` yields ``(line_number, row_dict)``; a missing column, a row with the wrong
number of fields, bytes that are not UTF-8 or a broken gzip stream raise one-line ``InputError``s.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from pathlib import Path
from typing import Iterator

from cxrgen.errors import InputError


def _first_bad_line(path: Path) -> str:
    """Where the first non-UTF-8 byte is (only called after decoding failed)."""
    with open_binary(path) as f:
        for lineno, b in enumerate(f, 1):
            try:
                b.decode("utf-8")
            except UnicodeDecodeError as e:
                return f"{path} line {lineno}: not UTF-8 text (byte {b[e.start]:#04x} at column {e.start + 1})"
    return f"{path}: not UTF-8 text"


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


class Table:
    """``for line, fields in Table(path, required)``: rows as lists; ``col[name]`` is a column's index."""

    def __init__(self, path: str | os.PathLike, required: tuple[str, ...] = (), *, fix: str = ""):
        self.path, self.required, self.fix = Path(path), required, fix
        self.col: dict[str, int] = {}

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        path = self.path
        raw = open_binary(path)
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        reader = csv.reader(text)
        try:
            with text:
                try:
                    header = next(reader)
                except StopIteration:
                    raise InputError(f"{path} line 1: empty file, expected a header with "
                                     f"{', '.join(self.required)}") from None
                header = [h.lstrip("\ufeff").strip() for h in header]
                missing = [c for c in self.required if c not in header]
                if missing:
                    hint = f"; {self.fix}" if self.fix else ""
                    raise InputError(f"{path} line 1: missing column(s) {', '.join(map(repr, missing))} "
                                     f"(found {', '.join(header[:12])}{'…' if len(header) > 12 else ''}){hint}")
                self.col = {h: i for i, h in enumerate(header)}
                n = len(header)
                for row in reader:
                    if len(row) != n:
                        if not row:
                            continue
                        raise InputError(f"{path} line {reader.line_num}: {len(row)} fields, the header has {n}")
                    yield reader.line_num, row
        except UnicodeDecodeError:
            raise InputError(_first_bad_line(path) + "; re-export the file as UTF-8") from None
        except (OSError, EOFError, zlib.error) as e:  # truncated / corrupt gzip
            raise InputError(f"{path} line {reader.line_num}: cannot read ({e}); the file looks truncated or "
                             "corrupt, download it again") from None
        except csv.Error as e:
            raise InputError(f"{path} line {reader.line_num}: malformed CSV ({e})") from None


def rows(path: str | os.PathLike, required: tuple[str, ...] = (), *, fix: str = "") -> Iterator[tuple[int, dict]]:
    """Like :class:`Table`, with each row as a ``{column: value}`` dict."""
    t = Table(path, required, fix=fix)
    for line, row in t:
        yield line, dict(zip(t.col, row))
