"""A small scored workspace (synthetic data, hand-made predictions) shared by the report tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

RUN = "hand"


def make_scored_workspace(root: Path) -> Path:
    """prepare synthetic (30 studies) → generate/hand/test (hand-made predictions) → score/hand/test."""
    from cxrgen.config.schema import GenerateConfig, PrepareConfig
    from cxrgen.data.records import load_records
    from cxrgen.stages import prepare
    from cxrgen.workspace.artifact import ArtifactBuild, upstream
    from cxrgen.workspace.layout import Workspace
    ws = Workspace.resolve(root)
    prepare.run(PrepareConfig(dataset="synthetic", n=30, name="tiny"), ws=ws)
    records = load_records(ws.records_path("tiny"))
    train = [r.report for r in records if r.split == "train"]
    rows = []
    for i, r in enumerate(r for r in records if r.split == "test"):
        # one of four kinds: the reference itself, a training report (copy), a prior reference, a fixed normal report
        pred = [r.report, train[i % len(train)], r.report + " heart size is unchanged .",
                "no pleural effusion . no pneumothorax . the lungs are clear ."][i % 4]
        rows.append({"id": r.id, "prediction": pred, "reference": r.report})
    entry, _ = upstream(ws, "prepare", "tiny")
    with ArtifactBuild(ws, "generate", (RUN, "test"), GenerateConfig(run=RUN), [entry]) as b:
        (b.work_dir / "preds.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
        b.commit(["preds.jsonl"], extra={"baseline": "hand-made predictions (tests)"})
    r = run_cli("score", "--run", RUN, "--split", "test", "--metrics", "bleu,rouge_l,cider,ce", "--bootstrap", "50",
                workspace=ws.root)
    assert r.code == 0, r.err
    return ws.root


@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory) -> Path:
    return make_scored_workspace(tmp_path_factory.mktemp("report") / "ws")
