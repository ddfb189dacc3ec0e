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


def csv_list(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())
