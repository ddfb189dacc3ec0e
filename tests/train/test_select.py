"""select=val:bleu_4+cider (R2GenGPT's checkpoint rule): best/ holds the step with the best validation
score, survives a kill between validation and save, and `generate --checkpoint best` uses it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from tests.conftest import run_cli, subprocess_env
from tests.train.fixtures import make_workspace

# finetune on a tiny GPT-2 learns the four fixture reports within ~10 steps, so validation scores move
ARGS = ["train", "--mode", "finetune", "--llm", "tiny-gpt2", "--run", "r", "optim.max_steps=18", "val_every=3",
        "save_every=3", "keep_last=10", "select=val:bleu_4+cider", "select_decoding.max_new_tokens=16",
        "select_decoding.truncate_references=5",
        "mapper.layers=1", "prefix_len=4", "clip_len=2", "optim.batch_size=4", "optim.lr=3e-3", "log_every=1",
        "max_len=24"]


def _tensors(folder: Path) -> dict:
    return load_file(str(folder / "trainable.safetensors"))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _val_rows(run: Path) -> dict[int, dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if "val_select" in r}


def test_best_is_the_step_with_the_best_validation_score(tmp_path):
    ws = make_workspace(tmp_path / "ws", n_train=16, n_val=4, n_test=4)
    r = run_cli(*ARGS, workspace=ws.root)
    assert r.code == 0, r.err
    run = ws.root / "train" / "r"
    val = _val_rows(run)
    assert sorted(val) == [3, 6, 9, 12, 15, 18]
    for row in val.values():                         # the rule: 0.5·BLEU-4 + 0.5·CIDEr
        assert abs(row["val_select"] - 0.5 * (row["val_bleu_4"] + row["val_cider"])) < 2e-6
    sel = json.loads((run / "best" / "state.json").read_text())["select"]
    best_step = sel["step"]
    top = max(v["val_select"] for v in val.values())
    first_top = min(s for s, v in val.items() if v["val_select"] == top)
    assert best_step == first_top and abs(sel["value"] - top) < 1e-6
    assert val[3]["val_select"] < top                # the scores did move: the choice is not the first step
    assert best_step < 18                            # and not the last one either
    assert _same(_tensors(run / "best"), _tensors(run / "checkpoints" / f"step-{best_step:06d}"))
    assert not _same(_tensors(run / "best"), _tensors(run / "final"))
    m = json.loads((run / "manifest.json").read_text())
    assert m["extra"]["best"] == {"step": best_step, "value": sel["value"], "rule": "val:bleu_4+cider"}
    assert "best/trainable.safetensors" in m["outputs"]
    # generate --checkpoint best decodes with best/, and its val BLEU-4/CIDEr are what selection saw
    g = run_cli("generate", "--run", "r", "--split", "val", "--checkpoint", "best", "max_new_tokens=16",
                workspace=ws.root)
    assert g.code == 0, g.err
    s = run_cli("score", "--run", "r", "--split", "val", "--metrics", "bleu,cider", "--bootstrap", "0", "--json",
                "--truncate-references", "5", workspace=ws.root)   # val references cut as selection cut them
    assert s.code == 0, s.err
    doc = json.loads(s.out)
    got = doc["metrics"]
    assert doc["settings"]["truncate_references"]["truncated"] > 0
    assert abs(0.5 * (got["bleu_4"] + got["cider"]) - sel["value"]) < 1e-9


def test_best_survives_a_kill_between_validation_and_save(tmp_path):
    """SIGKILL right after the step-6 validation (metrics row written), before best/ is saved: the resumed run
    replays from step-000003, validates again and ends with the best/ of an uninterrupted run."""
    ref = make_workspace(tmp_path / "ref", n_train=16, n_val=4, n_test=4)
    assert run_cli(*ARGS, workspace=ref.root).code == 0
    ws = make_workspace(tmp_path / "killed", n_train=16, n_val=4, n_test=4)
    killer = (
        "import os, signal, sys\n"
        "from cxrgen.models import selection\n"
        "orig = selection.BestKeeper.after_eval\n"
        "def after_eval(self, trainer, row):\n"
        "    if trainer.step == 6:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return orig(self, trainer, row)\n"
        "selection.BestKeeper.after_eval = after_eval\n"
        "from cxrgen.cli.app import main\n"
        "sys.argv = ['cxrgen'] + sys.argv[1:]\n"
        "main()\n")
    p = subprocess.run([sys.executable, "-c", killer, "--workspace", str(ws.root), *ARGS], env=subprocess_env(),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    partial = ws.root / "train" / "r.partial"
    assert 6 in _val_rows(partial)                   # validation ran ...
    best = json.loads((partial / "best" / "state.json").read_text())["select"]
    assert best["step"] == 3                         # ... but its best/ was never written
    r = run_cli(*ARGS, workspace=ws.root)
    assert r.code == 0, r.err
    assert "resuming train/r from step-000003" in r.err
    a, b = ref.root / "train" / "r", ws.root / "train" / "r"
    assert json.loads((a / "best/state.json").read_text())["select"] == \
        json.loads((b / "best/state.json").read_text())["select"]
    assert _same(_tensors(a / "best"), _tensors(b / "best"))
    assert _same(_tensors(a / "final"), _tensors(b / "final"))
    assert not (b / "best.new").exists() and not (b / "best.old").exists()


def test_an_interrupted_swap_is_repaired(tmp_path):
    """Killed between `best → best.old` and `best.new → best`: restore puts the complete old one back and
    drops the new one (the replayed validation writes it again)."""
    from cxrgen.config.base import load_config
    from cxrgen.config.schema import TrainConfig
    from cxrgen.models.selection import BestKeeper
    src = make_workspace(tmp_path / "ws", n_train=16, n_val=4, n_test=4)
    assert run_cli(*ARGS, workspace=src.root).code == 0
    work = tmp_path / "work"
    work.mkdir()
    run = src.root / "train" / "r"
    import shutil
    shutil.copytree(run / "best", work / "best.old")
    shutil.copytree(run / "final", work / "best.new")
    keeper = BestKeeper(load_config(TrainConfig, run / "best" / "config.yaml"), None, [], None)
    keeper.restore(work, is_main=True)
    assert sorted(p.name for p in work.iterdir()) == ["best"]
    assert _same(_tensors(work / "best"), _tensors(run / "best"))
    assert keeper.best_step == json.loads((run / "best/state.json").read_text())["select"]["step"]


def test_select_names_the_allowed_metrics(cli):
    r = cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "select=val:meteor", "--dry-run")
    assert r.code == 2 and "select='val:meteor'" in r.err and "bleu_4" in r.err and "cider" in r.err
