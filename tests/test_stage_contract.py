"""Stages return data and never render: each pipeline stage exposes plan() (the dry run, as data) and
run(); none prints or builds rich tables (cli/ renders a table, or JSON with --json)."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

import cxrgen
from tests.conftest import run_cli

STAGES = Path(cxrgen.__file__).parent / "stages"


def test_pipeline_stages_expose_plan_and_run():
    for name in ("prepare", "embed", "train", "generate", "score", "report"):
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


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """prepare/tiny → generate/hand/test → score/hand/test (bleu,rouge_l,cider,ce; bootstrap 50); no report."""
    from tests.report.conftest import make_scored_workspace
    return make_scored_workspace(tmp_path_factory.mktemp("contract") / "ws")


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


FIXTURE = ("--metrics", "bleu,rouge_l,cider,ce", "--bootstrap", "50")  # the settings score/hand/test was made with


def test_score_plan_is_the_runs_fingerprint_and_writes_nothing(scored):
    from cxrgen.config.schema import ScoreConfig
    from cxrgen.stages import score
    from cxrgen.workspace.layout import Workspace
    before = _tree(scored)
    ws = Workspace(scored)
    cfg = ScoreConfig(metrics=("bleu", "rouge_l", "cider", "ce"), bootstrap=50, device="cpu", batch_size=3)
    p = score.plan(cfg, ws, run_name="hand", split="test")
    assert (p["up_to_date"], p["state"]) == (True, "up to date")  # device/batch_size: runtime only
    assert [i["name"] for i in p["inputs"]] == ["generate/hand/test", "prepare/tiny"]
    assert p["output"] == str(scored / "score" / "hand" / "test")
    assert p["dataset_labels"] == str(scored / "prepare" / "tiny" / "records.jsonl")
    assert p["settings"]["metrics"] == ["bleu", "rouge_l", "cider", "ce"] and p["settings"]["labeler"] == "rules"
    p = score.plan(ScoreConfig(metrics=("bleu", "rouge_l", "cider", "ce"), bootstrap=20), ws, run_name="hand", split="test")
    assert (p["up_to_date"], p["state"]) == (False, "changed: bootstrap 50 → 20")
    assert score.plan(cfg, ws, run_name="hand", split="test", force=True)["up_to_date"] is False
    assert _tree(scored) == before


def test_report_plan_says_missing_then_up_to_date_and_writes_nothing(scored):
    from cxrgen.config.schema import ReportConfig
    from cxrgen.stages import report
    from cxrgen.workspace.layout import Workspace
    before = _tree(scored)
    ws = Workspace(scored)
    p = report.plan(ReportConfig(run="hand", redact=True), ws)
    assert (p["up_to_date"], p["state"]) == (False, "missing")
    assert [i["name"] for i in p["inputs"]] == ["score/hand/test", "generate/hand/test", "prepare/tiny"]
    assert p["output"] == str(scored / "report" / "hand" / "test" / "index.html")
    assert p["settings"] == {"compare": None, "redact": True, "max_studies": 1000, "thumbnail_size": 192}
    assert _tree(scored) == before
    report.run(ReportConfig(run="hand", redact=True, thumbnail_size=0), ws=ws)
    p = report.plan(ReportConfig(run="hand", redact=True, thumbnail_size=0), ws)
    assert (p["up_to_date"], p["state"]) == (True, "up to date")
    p = report.plan(ReportConfig(run="hand", thumbnail_size=0), ws)
    assert (p["up_to_date"], p["state"]) == (False, "changed: redact True → False")


def test_score_and_report_dry_run_print_or_emit_the_plan_and_write_nothing(scored, tmp_path):
    before = _tree(scored)
    r = run_cli("score", "--run", "hand", *FIXTURE, "--dry-run", "--json", workspace=scored)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert (doc["stage"], doc["mode"], doc["up_to_date"], doc["run"], doc["split"]) == ("score", "workspace", True, "hand", "test")
    r = run_cli("score", "--run", "hand", *FIXTURE, "--force", "--dry-run", workspace=scored)
    assert r.code == 0 and r.err == ""
    assert r.out.splitlines()[-1] == f"output      {scored}/score/hand/test (would score: --force: rebuilt whatever its state)"
    assert "inputs      generate/hand/test, prepare/tiny\n" in r.out
    preds = scored / "generate" / "hand" / "test" / "preds.jsonl"
    out = tmp_path / "out"
    r = run_cli("score", preds, "--metrics", "bleu,ce", "--out", out, "--dry-run", "--json", workspace=scored)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert (doc["mode"], doc["output"], doc["writes"]) == ("file", str(out), [str(out / "scores.json"), str(out / "per_sample.jsonl")])
    r = run_cli("score", preds, "--metrics", "bleu", "--dry-run", workspace=scored)
    assert r.code == 0 and r.out.splitlines()[-1] == "output      none (prints the scores only)"
    r = run_cli("report", "--run", "hand", "--dry-run", workspace=scored)
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1].startswith(f"output      {scored}/report/hand/test/index.html (would write: ")
    r = run_cli("report", "--run", "hand", "--dry-run", "--json", workspace=scored)
    assert json.loads(r.out)["stage"] == "report"
    r = run_cli("report", "--run", "nope", "--dry-run", workspace=scored)
    assert r.code == 4 and r.err.startswith("error: score/nope/test is missing")
    assert _tree(scored) == before and not out.exists()
