"""CXRGEN_FAIL_AT, the public fault-injection hook: a stage dies at the named step (in process: exit
130 like Ctrl-C) and the rerun resumes from what was on disk, ending where an uninterrupted run ends."""

from __future__ import annotations

import json

import pytest

from cxrgen.utils import faults
from tests.conftest import run_cli
from tests.train.fixtures import make_workspace
from tests.train.test_train import SMALL, _same, _weights


def test_nth_pass_raises_and_other_points_do_not(monkeypatch):
    monkeypatch.setenv(faults.ENV, "generate.batch:3")
    faults.reached("generate.batch")
    faults.reached("train.step")          # another point: not counted
    faults.reached("generate.batch")
    with pytest.raises(faults.FaultInjected, match="CXRGEN_FAIL_AT=generate.batch:3"):
        faults.reached("generate.batch")
    faults.reached("generate.batch")      # only the N-th pass dies
    monkeypatch.setenv(faults.ENV, "train.step")   # a new setting starts a new count, N defaults to 1
    with pytest.raises(faults.FaultInjected):
        faults.reached("train.step")


def test_train_dies_at_a_step_then_resumes_to_the_same_weights(tmp_path, monkeypatch):
    args = ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "r", "optim.max_steps=8", "save_every=3",
            *SMALL]
    ref = make_workspace(tmp_path / "ref", n_train=12, n_val=4, n_test=2)
    assert run_cli(*args, workspace=ref.root).code == 0
    ws = make_workspace(tmp_path / "ws", n_train=12, n_val=4, n_test=2)
    monkeypatch.setenv(faults.ENV, "train.step:5")
    r = run_cli(*args, workspace=ws.root)
    assert r.code == 130
    ck = ws.root / "train/r.partial/checkpoints"
    assert sorted(p.name for p in ck.glob("step-*")) == ["step-000003"] and not (ws.root / "train/r").exists()
    monkeypatch.delenv(faults.ENV)
    r = run_cli(*args, "--json", workspace=ws.root)   # the log goes to stderr: stdout is the manifest alone
    assert r.code == 0 and "resuming train/r from step-000003 (step 3/8)" in r.err
    assert "trained train/r: 8 steps, loss " in r.err
    manifest = json.loads(r.out)
    assert manifest["key"] == ["r"] and manifest["counts"]["steps"] == 8
    assert _same(_weights(ref.root, "r"), _weights(ws.root, "r"))
    rows = lambda w: [json.loads(line) for line in (w / "train/r/metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows(ws.root)] == list(range(1, 9))
    assert [row["loss"] for row in rows(ws.root)] == [row["loss"] for row in rows(ref.root)]
