"""Helpers shared by the command modules: workspace, config assembly, output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TypeVar

import typer

from cxrgen.config.base import load_config
from cxrgen.workspace.layout import Workspace

T = TypeVar("T")


def workspace(ctx: typer.Context) -> Workspace:
    obj = ctx.find_root().obj or {}
    return Workspace.resolve(obj.get("workspace"))


def build_config(cls: type[T], config: Path | None = None, overrides: list[str] | None = None,
                 preset: dict | None = None, **cli_values: Any) -> T:
    """defaults → preset → --config YAML → explicit CLI options → key=value overrides."""
    explicit = {k: v for k, v in cli_values.items() if v is not None}
    return load_config(cls, preset, config, explicit, overrides=list(overrides or ()))


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def console():
    from rich.console import Console
    return Console(stderr=False, highlight=False)


# a folding (free-text) column is not made narrower than this when a table is widened to fit its numbers
FOLD_MIN = 16


def print_table(table, con=None) -> None:
    """Print a rich Table so that no ``no_wrap`` column (numbers, artifact names) is ever cut short.

    Rich fits a table to the console width (80 columns when stdout is a pipe or a file) and, when the
    columns that may wrap cannot absorb the excess, shortens every column with an ellipsis, so
    ``0.6123`` printed as ``0.6…``. Here a table wider than the console holds each ``no_wrap`` column at
    its widest value (its header may wrap between words), free-text columns (``overflow="fold"``) wrap
    down to ``FOLD_MIN`` characters, and a table that still does not fit is printed wider than the
    console (a terminal wraps the long lines) rather than hiding a value.
    """
    from rich.measure import Measurement
    from rich.text import Text
    con = con or console()
    wide = con.options.update_width(100_000)
    if Measurement.get(con, wide, table).maximum <= con.width:
        con.print(table)
        return
    held, slack = [], 0
    for col in table.columns:
        if col.width is not None:
            continue
        if not col.no_wrap:
            if col.overflow == "fold":
                slack += max(0, max(Measurement.get(con, wide, c).minimum for c in (col.header, *col.cells)) - FOLD_MIN)
            continue
        header = con.render_str(col.header) if isinstance(col.header, str) else col.header
        head = Measurement.get(con, wide, header)
        body = max((Measurement.get(con, wide, c).maximum for c in col.cells), default=0)
        if isinstance(header, Text):
            header.no_wrap = False  # a long header wraps between its words; the values never do
            col.header = header
        col.min_width = col.max_width = max(body, head.minimum)
        held.append((col, max(0, head.maximum - col.min_width)))
    need = Measurement.get(con, wide, table).minimum - slack
    room = con.width - need
    for col, unwrapped in held:  # spare room goes to whole headers first
        add = max(0, min(room, unwrapped))
        col.min_width = col.max_width = col.min_width + add
        room -= add
    if need > con.width:
        table.width = need
        con.print(table, crop=False)
    else:
        con.print(table)


def csv_list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())
