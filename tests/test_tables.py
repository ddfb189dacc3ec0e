"""Tables printed to a pipe or an 80-column terminal: numbers and artifact names are never cut short.

Rich fits a table to the console (80 columns when stdout is not a terminal); before, `score` printed every
value as ``0.6…`` and `status` cut artifact names (``generate/demo-prefix/test-shu…``) once a long row
was there. Each test runs the command in process (stdout is not a TTY) with COLUMNS=80 and checks every
value as printed against scores.json / status --json.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_cli
from tests.report.conftest import RUN, make_scored_workspace
from tests.score.conftest import make_pairs, write_preds

ELLIPSIS = "…"


@pytest.fixture
def narrow(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory):
    return make_scored_workspace(tmp_path_factory.mktemp("tables") / "ws")


def _shown(doc: dict) -> list[str]:
    """The metric keys the table shows (CE precision/recall are in scores.json only)."""
    return [k for k in doc["metrics"] if not k.startswith("ce_") or k.partition("@")[0].split("_")[-2] == "f1"]


def _row(out: str, *cells: str) -> str:
    """The one table line holding these cells, in order, each in its own column."""
    pattern = r"│ " + r" +│ +".join(re.escape(c) for c in cells) + r" +│"
    hits = [line for line in out.splitlines() if re.search(pattern, line)]
    assert len(hits) == 1, f"no single row with {cells}:\n{out}"
    return hits[0]


def test_score_workspace_mode_prints_full_values_at_80_columns(scored_ws, narrow):
    r = run_cli("score", "--run", RUN, "--split", "test", "--metrics", "bleu,rouge_l,cider,ce", "--bootstrap", "50",
                workspace=scored_ws)
    assert r.code == 0, r.err
    doc = json.loads((scored_ws / "score" / RUN / "test" / "scores.json").read_text(encoding="utf-8"))
    keys = _shown(doc)
    assert "bleu_4" in keys and "ce_macro_f1_14@ref=labeler" in keys
    for k in keys:
        lo, hi = doc["ci95"][k]
        _row(r.out, k, f"{doc['metrics'][k]:.4f}", f"[{lo:.4f}, {hi:.4f}]")
    assert ELLIPSIS not in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 80  # this table fits: free text wraps instead


def test_score_compare_prints_full_values_and_deltas(tmp_path, narrow):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_preds(a, make_pairs(30, seed=1))
    write_preds(b, make_pairs(30, seed=2))
    r = run_cli("score", a, "--compare", b, "--out", tmp_path / "out", "--metrics", "bleu,rouge_l,cider,ce",
                "--bootstrap", "50", "--permutations", "200")
    assert r.code == 0, r.err
    doc = json.loads((tmp_path / "out" / "scores.json").read_text(encoding="utf-8"))
    cmp = doc["compare"]
    keys = _shown(doc)
    assert "ce_micro_f1_14" in keys
    for k in keys:
        lo, hi = doc["ci95"][k]
        pb, ar = cmp["paired_bootstrap"]["results"][k]["p"], cmp["randomization"]["results"][k]["p"]
        _row(r.out, k, f"{doc['metrics'][k]:.4f}", f"[{lo:.4f}, {hi:.4f}]")  # the CE setting cell sits between
        _row(r.out, f"{cmp['other_metrics'][k]:.4f}", f"{cmp['delta'][k]:+.4f}", f"{pb:.3f} / {ar:.4f}")
    assert ELLIPSIS not in r.out


def test_status_prints_whole_artifact_names_beside_a_stale_row(scored_ws, narrow):
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.workspace.artifact import ArtifactBuild, upstream
    from cxrgen.workspace.layout import Workspace
    ws = Workspace.resolve(scored_ws)
    entry, _ = upstream(ws, "prepare", "tiny")
    long_split = "test-shuffled-features-with-a-long-name"
    with ArtifactBuild(ws, "generate", (RUN, long_split), GenerateConfig(run=RUN), [entry]) as b:
        (b.work_dir / "preds.jsonl").write_text('{"id": "x", "prediction": "a", "reference": "a"}\n')
        b.commit(["preds.jsonl"])
    # the scored predictions change: score/<run>/test becomes stale (a long why/fix text)
    with ArtifactBuild(ws, "generate", (RUN, "test"), GenerateConfig(run=RUN, beams=2), [entry], force=True) as b:
        (b.work_dir / "preds.jsonl").write_text((scored_ws / "generate" / RUN / "test" / "preds.jsonl").read_text())
        b.commit(["preds.jsonl"])
    rows = json.loads(run_cli("status", "--json", workspace=scored_ws).out)["artifacts"]
    assert {a["name"]: a["state"] for a in rows}[f"score/{RUN}/test"] == "stale"
    r = run_cli("status", workspace=scored_ws)
    assert r.code == 0, r.err
    for a in rows:
        assert re.search(rf"^│ {re.escape(a['name'])} +│ {a['state']} +│", r.out, re.M), (a["name"], r.out)
    assert f"generate/{RUN}/{long_split}" in r.out and ELLIPSIS not in r.out
    # the why / fix text wraps (folds) within its column, whole
    why = "".join(line.split("│")[3].strip() for line in r.out.splitlines() if line.count("│") == 4)
    stale = next(a for a in rows if a["name"] == f"score/{RUN}/test")
    assert stale["fix"].startswith(f"cxrgen score --run {RUN} --split test")
    assert f"upstream generate/{RUN}/test changed → run `{stale['fix']}`".replace(" ", "") in why.replace(" ", "")


def test_audit_and_demo_tables_keep_their_counts(scored_ws, narrow):
    r = run_cli("audit", "--dataset", "tiny", "--json", workspace=scored_ws)
    res = json.loads(r.out)
    table = run_cli("audit", "--dataset", "tiny", workspace=scored_ws).out
    for check, key in (("patients", "patients"), ("identical images", "images"), ("identical reports", "reports")):
        _row(table, check, str(res[key]["count"]), str(res[key]["records"]))
    assert ELLIPSIS not in table and max(len(line) for line in table.splitlines()) <= 80
