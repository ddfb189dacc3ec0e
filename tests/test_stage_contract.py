"""Stages return data and never render: each pipeline stage exposes plan() (the dry run, as data) and
run(); none prints or builds rich tables (cli/ renders a table, or JSON with --json)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import cxrgen

STAGES = Path(cxrgen.__file__).parent / "stages"


def test_pipeline_stages_expose_plan_and_run():
    for name in ("prepare", "embed", "train", "generate"):
        mod = importlib.import_module(f"cxrgen.stages.{name}")
        assert callable(mod.plan) and callable(mod.run), name
        assert list(inspect.signature(mod.plan).parameters)[:2] == ["cfg", "ws"], name


def test_no_stage_prints_or_builds_tables():
    offenders = [f"{p.name}:{i}" for p in sorted(STAGES.glob("*.py"))
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"(?<![\w.])print\(|from rich|import rich", line)]
    assert offenders == []


def test_prepare_dry_run_is_data(tmp_path):
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.stages import prepare
    from cxrgen.workspace.layout import Workspace
    p = prepare.plan(PrepareConfig(dataset="synthetic", n=12, name="s"), Workspace(tmp_path / "ws"))
    assert p["stats"] is None and p["would_generate"]["studies"] == 12 and p["name"] == "s"
    assert not (tmp_path / "ws" / "prepare").exists()
