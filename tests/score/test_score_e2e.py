"""`cxrgen score` as a real process: hostile text, METEOR and PTB, and the process exits (no JVM hang)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import subprocess_env
from tests.score.conftest import make_pairs, write_preds


@pytest.mark.e2e
def test_cli_process_scores_hostile_text_and_exits(tmp_path):
    pairs = make_pairs(25, seed=5)
    pairs[0] = ("n1", "No effusion.\nHeart normal.\r\nMild ||| edema.", "No pleural effusion.\rThe heart is normal.")
    pairs[1] = ("n2", "", "Lungs are clear.\u2028No pneumothorax.")
    preds = tmp_path / "p.jsonl"
    write_preds(preds, pairs)
    out = tmp_path / "out"
    for tok in ("none", "ptb"):
        p = subprocess.run([sys.executable, "-m", "cxrgen", "score", str(preds), "--out", str(out / tok),
                            "--tokenize", tok, "--bootstrap", "100", "--json"],
                           capture_output=True, text=True, timeout=300, env=subprocess_env())
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["settings"]["tokenize"] == tok
        assert 0 < doc["metrics"]["meteor"] < 1 and doc["counts"]["empty_predictions"] == 1
        rows = [json.loads(x) for x in (out / tok / "per_sample.jsonl").read_text().splitlines()]
        assert rows[1]["meteor"] == 0.0 and len(rows) == 25
