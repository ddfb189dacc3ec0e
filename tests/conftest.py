"""Shared fixtures: temporary workspaces, an in-process CLI runner, subprocess env for the tree under test."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# subprocesses (torchrun, kill -9 tests) must import this tree, not another installed copy
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, workspace: Path | None = None) -> CliResult:
    """Run ``cxrgen ARGS`` in process, like ``main([...])``; returns code, stdout, stderr."""
    from cxrgen.cli.app import main
    argv = (["--workspace", str(workspace)] if workspace else []) + [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def ws(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def cli(ws):
    def _run(*args: str) -> CliResult:
        return run_cli(*args, workspace=ws)
    return _run


def subprocess_env(**extra: str) -> dict:
    env = dict(os.environ)
    env.update(extra)
    return env


PY = sys.executable
