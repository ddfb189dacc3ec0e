"""One option grammar: the same concept has the same spelling in every stage that has it, and
``--weights`` no longer means two things (``--llm-weights`` / ``--encoder-weights``)."""

from __future__ import annotations

import dataclasses
import json

import typer

from cxrgen.cli.app import app
from tests.conftest import run_cli


def _options(*path: str) -> set[str]:
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return {o for p in cmd.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}


def test_shared_options_are_spelled_the_same_everywhere():
    common = {"-c", "--config", "--json", "--dry-run", "--force", "--device", "--batch-size"}
    for stage in ("embed", "train", "generate"):
        assert common <= _options(stage), (stage, common - _options(stage))
    assert {"--workers"} <= _options("embed") & _options("train")
    for stage in ("train", "generate", "score", "report"):
        assert "--run-name" in _options(stage), stage
    assert {"--llm-weights", "--encoder-weights"} <= _options("train")
    assert "--encoder-weights" in _options("embed") and "--encoder-weights" in _options("generate")
    every = [("prepare", "synthetic"), ("prepare", "mimic"), ("prepare", "iu"), ("embed",), ("train",), ("generate",),
             ("score",), ("report",), ("reproduce",), ("demo",), ("env",), ("status",), ("label",), ("audit",)]
    assert all("--weights" not in _options(*p) for p in every)


def test_cli_options_reach_the_config_and_json_prints_data(tmp_path):
    r = run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--batch-size", "3", "--workers", "1",
                "--device", "cpu", "--dry-run", "--json", workspace=tmp_path / "ws")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert "batch 3" in plan["memory_gib"]["assumptions"] and plan["mode"] == "prefix"
    from cxrgen.stages import train
    from cxrgen.config.base import from_dict
    from cxrgen.config.schema import TrainConfig
    assert dataclasses.asdict(train.validate(from_dict(TrainConfig, {"mode": "prefix", "llm": "tiny-gpt2"})))["run"]
    assert train.plan(from_dict(TrainConfig, {"mode": "prefix", "llm": "tiny-gpt2", "optim": {"batch_size": 3}}))[
        "memory_gib"] == plan["memory_gib"]
