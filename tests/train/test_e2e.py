"""End to end on synthetic data: prepare → embed (tiny MedCLIP) → train prefix (tiny GPT-2) → generate.

The trained model's reports must state the study's findings clearly more often than the same model
fed another study's image features (``--shuffle-features``), judged by the project's CheXpert labeler
against the synthetic ground truth (micro-F1 over positive findings). tests/train/test_learning.py
shows the same with features that encode the finding strongly (near-perfect vs chance).
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

COMMON = ["optim.batch_size=16", "optim.warmup_steps=20", "max_len=64", "save_every=100000", "log_every=50"]
# the tiny twin knows no language: first train it on the report texts (--mode lm, the stand-in for
# pretraining, as `cxrgen demo` does), then freeze it and prefix-tune the mapper on top
LM = ["--mode", "lm", "--llm", "tiny-gpt2", "--run", "lm", "optim.lr=3e-3", "optim.epochs=8", *COMMON]
PREFIX = ["--mode", "prefix", "--encoder", "tiny-medclip-vit", "--run", "r", "optim.lr=5e-3", "optim.epochs=25",
          *COMMON]


def _micro_f1(ws, split: str) -> float:
    from cxrgen.metrics.chexpert import label_reports
    recs = {}
    for line in (ws / "prepare/synthetic/records.jsonl").read_text().splitlines():
        r = json.loads(line)
        recs[r["id"]] = r
    rows = [json.loads(l) for l in (ws / "generate/r" / split / "preds.jsonl").read_text().splitlines()]
    tp = fp = fn = 0
    for row, lab in zip(rows, label_reports([r["prediction"] for r in rows])):
        for k, v in recs[row["id"]]["labels"].items():
            gold, pred = v == 1, lab.get(k) == 1
            tp += gold and pred
            fp += pred and not gold
            fn += gold and not pred
    return 2 * tp / max(1, 2 * tp + fp + fn)


@pytest.mark.e2e
def test_prefix_reports_follow_the_image(tmp_path):
    ws = tmp_path / "ws"
    for args in (["prepare", "synthetic", "--n", "300", "--seed", "0"],
                 ["embed", "--dataset", "synthetic", "--encoder", "tiny-medclip-vit"],
                 ["train", *LM],
                 ["train", "--llm", str(ws / "train/lm/final/hf"), *PREFIX],
                 ["generate", "--run", "r", "max_new_tokens=64"],
                 ["generate", "--run", "r", "max_new_tokens=64", "--shuffle-features"]):
        r = run_cli(*args, workspace=ws)
        assert r.code == 0, (args, r.err)
    trained, shuffled = _micro_f1(ws, "test"), _micro_f1(ws, "test-shuffled")
    print(f"micro-F1 of positive findings: trained {trained:.3f}, shuffled features {shuffled:.3f}")
    assert trained >= 0.2, (trained, shuffled)
    # seeded CPU run: trained 0.247, shuffled 0.124 (tiny random MedCLIP features carry the findings weakly)
    assert trained >= 1.5 * shuffled and trained - shuffled >= 0.08, (trained, shuffled)
