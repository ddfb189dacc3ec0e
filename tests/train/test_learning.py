"""The trainer learns image-conditioned reports: with features that encode the finding, the prefix
model writes each study's own report, and loses it when given another study's features."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.train.fixtures import FINDINGS, make_workspace

WORDS = {"effusion": "effusion", "cardiomegaly": "cardiomegaly", "pneumothorax": "pneumothorax", "normal": "no acute"}


def test_prefix_reports_follow_linearly_encoded_features(tmp_path):
    ws = make_workspace(tmp_path / "w", n_train=64, n_val=0, n_test=16)
    r = run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "r", "mapper.layers=2",
                "optim.lr=3e-3", "optim.max_steps=200", "optim.batch_size=8", "optim.warmup_steps=10",
                "save_every=100000", "log_every=50", workspace=ws.root)
    assert r.code == 0, r.err
    finding = {text: name for name, text in FINDINGS.items()}
    hits = {}
    for extra in ([], ["--shuffle-features"]):
        assert run_cli("generate", "--run", "r", "max_new_tokens=16", *extra, workspace=ws.root).code == 0
        split = "test-shuffled" if extra else "test"
        rows = [json.loads(l) for l in (ws.root / "generate/r" / split / "preds.jsonl").read_text().splitlines()]
        hits[split] = sum(WORDS[finding[row["reference"]]] in row["prediction"] for row in rows)
    assert hits["test"] >= 14, hits
    assert hits["test-shuffled"] <= 6, hits
