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


CONFIG = {"-c", "--config"}
# the shared options of each stage: exactly those whose concept it has (a config file, a plan, an artifact
# to rebuild, a device and a batch to run a model on, worker processes)
SHARED = {
    ("prepare", "synthetic"): CONFIG | {"--json", "--dry-run", "--force", "--workers"},
    ("prepare", "mimic"): CONFIG | {"--json", "--dry-run", "--force"},
    ("prepare", "iu"): CONFIG | {"--json", "--dry-run", "--force"},
    ("embed",): CONFIG | {"--json", "--dry-run", "--force", "--device", "--batch-size", "--workers"},
    ("train",): CONFIG | {"--json", "--dry-run", "--force", "--device", "--batch-size", "--workers"},
    ("generate",): CONFIG | {"--json", "--dry-run", "--force", "--device", "--batch-size"},
    ("score",): CONFIG | {"--json", "--dry-run", "--force", "--device", "--batch-size"},  # CheXbert's device/batch
    ("report",): CONFIG | {"--json", "--dry-run", "--force"},
    ("label",): {"--json", "--device", "--batch-size"},  # no artifact, no config: labels to stdout or --out
}
ALL_SHARED = CONFIG | {"--json", "--dry-run", "--force", "--device", "--batch-size", "--workers"}


def test_shared_options_are_spelled_the_same_everywhere():
    for stage, want in SHARED.items():
        assert _options(*stage) & ALL_SHARED == want, (stage, want ^ (_options(*stage) & ALL_SHARED))
    for stage in ("train", "generate", "score", "report"):
        assert "--run-name" in _options(stage), stage
    assert {"--llm-weights", "--encoder-weights"} <= _options("train")
    assert "--encoder-weights" in _options("embed") and "--encoder-weights" in _options("generate")
    every = [("prepare", "synthetic"), ("prepare", "mimic"), ("prepare", "iu"), ("embed",), ("train",), ("generate",),
             ("score",), ("report",), ("reproduce",), ("demo",), ("env",), ("status",), ("label",), ("audit",)]
    assert all("--weights" not in _options(*p) for p in every)


def test_score_device_and_batch_size_reach_the_labeler_not_the_fingerprint(monkeypatch):
    from cxrgen.config.base import semantic_hash
    from cxrgen.config.schema import ScoreConfig
    from cxrgen.metrics.labelers import LabelerSpec
    from cxrgen.stages import score
    assert semantic_hash(ScoreConfig(device="cpu", batch_size=3)) == semantic_hash(ScoreConfig())
    assert ScoreConfig(device=" CUDA:1 ").device == "cuda:1"
    monkeypatch.setattr(score, "_labeler", lambda spec, stamp=None: spec)
    cfg = ScoreConfig(labeler="chexbert", labeler_weights="w.pth", tokenizer="tok", device="cpu", batch_size=3)
    assert score.labeler_for(cfg) == LabelerSpec("chexbert", "w.pth", "tok", device="cpu", batch_size=3)


def test_device_cuda_without_cuda_is_one_line_before_any_work(tmp_path):
    import torch
    if torch.cuda.is_available():
        import pytest
        pytest.skip("this machine has CUDA")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "1", "prediction": "no effusion .", "reference": "no effusion ."}) + "\n")
    want = "error: --device cuda: CUDA is not available on this machine; use --device cpu or auto\n"
    for args in (("score", preds, "--metrics", "bleu", "--device", "cuda"),
                 ("score", preds, "--metrics", "bleu", "--device", "cuda", "--dry-run"),
                 ("label", preds, "--field", "reference", "--device", "cuda")):
        r = run_cli(*args, workspace=tmp_path / "ws")
        assert (r.code, r.out, r.err) == (2, "", want), args
    r = run_cli("label", preds, "--field", "reference", "--batch-size", "0", workspace=tmp_path / "ws")
    assert (r.code, r.err) == (2, "error: --batch-size must be ≥ 1, got 0\n")
    assert not (tmp_path / "ws").exists()


def test_label_json(tmp_path):
    from cxrgen.metrics.labelers import RulesLabeler
    src = tmp_path / "r.txt"
    src.write_text("No pleural effusion.\nMild cardiomegaly.\n")
    r = run_cli("label", src, "--json", "--device", "cpu", "--batch-size", "1")
    assert r.code == 0, r.err
    rows = [json.loads(x) for x in r.out.splitlines()]  # without --out: the labels, one JSON object a line
    assert [(x["id"], x["Pleural Effusion"], x["Cardiomegaly"]) for x in rows] == [("1", 0, None), ("2", None, 1)]
    out = tmp_path / "labels.jsonl"
    r = run_cli("label", src, "--out", out, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"reports": 2, "labeler": RulesLabeler.name, "out": str(out)}
    assert [json.loads(x) for x in out.read_text().splitlines()] == rows
    assert r.err == f"labelled 2 reports → {out}\n"


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
