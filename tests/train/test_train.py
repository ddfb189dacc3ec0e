"""cxrgen train: dry-run counts, reproducibility, exact resume after kill -9, DDP (2 gloo processes), checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import run_cli, subprocess_env
from tests.train.fixtures import make_workspace

SMALL = ["mapper.layers=1", "prefix_len=4", "clip_len=2", "optim.batch_size=4", "optim.lr=3e-3", "log_every=1",
         "max_len=24"]


def _weights(ws: Path, run: str) -> dict:
    return load_file(str(ws / "train" / run / "final" / "trainable.safetensors"))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dry_run_json_qwen_counts_without_download(cli):
    r = cli("train", "--mode", "prefix", "--llm", "qwen1.5-0.5b", "--dry-run", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["trainable_params"] == 72_437_760
    assert d["total_params"] == 72_437_760 + 463_987_712
    assert d["components"] == {"mapper": {"params": 72_437_760, "trainable": 72_437_760},
                               "llm": {"params": 463_987_712, "trainable": 0}}
    assert d["memory_gib"]["train"] > d["memory_gib"]["inference"] > 0.8
    f = json.loads(cli("train", "--mode", "finetune", "--llm", "gpt2", "--dry-run", "--json").out)
    assert f["trainable_params"] == f["total_params"] == 41_745_408 + 124_439_808
    text = cli("train", "--mode", "prefix", "--llm", "gpt2-medium", "--dry-run")
    assert text.code == 0 and "72,437,760" in text.out and "estimated GPU memory" in text.out


def test_unknown_mode_and_bad_values_are_one_line_errors(cli):
    r = cli("train", "--mode", "prefx", "--llm", "tiny-gpt2", "--dry-run")
    assert r.code == 2 and "did you mean 'prefix'" in r.err and "Traceback" not in r.err
    r = cli("train", "--mode", "prefix", "optim.batch_size=0", "max_len=0", "--dry-run")
    assert r.code == 2 and "optim.batch_size=0 must be ≥ 1; max_len=0 must be ≥ 1" in r.err
    r = cli("train", "--mode", "prefix", "--llm", "tiny-gpt2")
    assert r.code == 4 and "prepare/synthetic is missing" in r.err


def test_same_seed_same_loss_curve_and_weights(tmp_path):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        ws = make_workspace(tmp_path / name, n_train=12, n_val=4, n_test=4)
        r = run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "r", "--seed", str(seed),
                    "optim.max_steps=6", *SMALL, workspace=ws.root)
        assert r.code == 0, r.err
        curve = [row["loss"] for row in map(json.loads, (ws.root / "train/r/metrics.jsonl").read_text().splitlines())]
        runs[name] = (curve, _weights(ws.root, "r"))
    assert len(runs["a"][0]) == 6
    assert runs["a"][0] == runs["b"][0] and _same(runs["a"][1], runs["b"][1])
    assert runs["a"][0] != runs["c"][0] and not _same(runs["a"][1], runs["c"][1])
    # only the mapper is saved; the run folder describes itself
    assert all(k.startswith("mapper.") for k in runs["a"][1])
    final = tmp_path / "a/train/r/final"
    assert sorted(p.name for p in final.iterdir()) == ["adapter_config.json", "config.yaml", "state.json",
                                                      "trainable.safetensors"]
    adapter = json.loads((final / "adapter_config.json").read_text())
    assert adapter["mode"] == "prefix" and adapter["prefix_len"] == 4 and adapter["mapper"]["in_dim"] == 512
    m = json.loads((tmp_path / "a/train/r/manifest.json").read_text())
    assert m["counts"]["steps"] == 6 and "val_loss" in m["extra"]


def test_kill_9_then_resume_auto_gives_identical_weights(tmp_path):
    args = ["train", "--mode", "finetune", "--llm", "tiny-gpt2", "--run", "r", "optim.max_steps=40",
            "save_every=4", "keep_last=2", "optim.warmup_steps=5", *SMALL]
    ref = make_workspace(tmp_path / "ref", n_train=16, n_val=4, n_test=4)
    assert run_cli(*args, workspace=ref.root).code == 0
    ws = make_workspace(tmp_path / "killed", n_train=16, n_val=4, n_test=4)
    proc = subprocess.Popen([sys.executable, "-m", "cxrgen", "--workspace", str(ws.root), *args],
                            env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ck = ws.root / "train" / "r.partial" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (ck / "step-000008").is_dir() and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    assert not (ws.root / "train" / "r").exists()
    r = run_cli(*args, workspace=ws.root)
    assert r.code == 0, r.err
    assert "resuming train/r from step-" in r.err
    assert _same(_weights(ref.root, "r"), _weights(ws.root, "r"))
    steps = [json.loads(l)["step"] for l in (ws.root / "train/r/metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 41))
    # the latest pointer and pruning of step folders
    kept = sorted(p.name for p in (ws.root / "train/r/checkpoints").glob("step-*"))
    assert kept == ["step-000032", "step-000036"]
    assert (ws.root / "train/r/checkpoints/latest").read_text().strip() == "step-000036"
    # an unchanged re-run is up to date
    again = run_cli(*args, workspace=ws.root)
    assert again.code == 0 and "train/r is up to date" in again.err and again.out == ""


def test_checkpoint_of_another_mode_and_pickles_are_refused(tmp_path):
    ws = make_workspace(tmp_path / "w", n_train=8, n_val=0, n_test=4)
    assert run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "p", "optim.max_steps=4",
                   "save_every=2", *SMALL, workspace=ws.root).code == 0
    step = ws.root / "train/p/checkpoints/step-000002"
    r = run_cli("train", "--mode", "finetune", "--llm", "tiny-gpt2", "--run", "f", "--resume", str(step), *SMALL,
                workspace=ws.root)
    assert r.code == 3 and f"{step}: checkpoint of mode 'prefix', not 'finetune'" in r.err

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    torch.save({"optimizer": Evil()}, step / "optimizer.pt")
    r = run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "p2", "--resume", str(step),
                "--resume-from-other", *SMALL, workspace=ws.root)
    assert r.code == 3 and "optimizer.pt: refused" in r.err and "weights_only=True" in r.err
    assert "\n" not in r.err.strip()


def _torchrun(n: int, ws: Path, *args: str) -> subprocess.CompletedProcess:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={n}", "--master_addr=127.0.0.1",
           f"--master_port={port}", "-m", "cxrgen", "--workspace", str(ws), *args]
    return subprocess.run(cmd, env=subprocess_env(OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)


@pytest.mark.e2e
def test_torchrun_two_processes_matches_single_process(tmp_path):
    """2 gloo ranks × batch 2 see the same examples per step as 1 process × batch 4 (equal-length reports)."""
    base = ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "r", "optim.max_steps=4", *SMALL]
    one = make_workspace(tmp_path / "one", n_train=16, n_val=4, n_test=6, findings=("effusion",))
    assert run_cli(*base, workspace=one.root).code == 0
    two = make_workspace(tmp_path / "two", n_train=16, n_val=4, n_test=6, findings=("effusion",))
    p = _torchrun(2, two.root, *[a.replace("--run", "--run-name") if a == "--run" else a for a in base], "optim.batch_size=2")
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((two.root / "train/r/manifest.json").read_text())
    assert m["counts"]["world_size"] == 2
    a, b = _weights(one.root, "r"), _weights(two.root, "r")
    assert a.keys() == b.keys()
    # Adam turns fp-noise in near-zero gradients into lr-sized steps, hence atol 2e-4, not bitwise
    assert all(torch.allclose(a[k], b[k], atol=2e-4) for k in a)
    curve = lambda w: [json.loads(l)["loss"] for l in (w / "train/r/metrics.jsonl").read_text().splitlines()]
    assert curve(one.root) == pytest.approx(curve(two.root), rel=1e-5)
    # generation sharded over 2 ranks, merged by rank 0 == single process (greedy)
    assert run_cli("generate", "--run", "r", "max_new_tokens=8", workspace=one.root).code == 0
    assert run_cli("train", *base[1:], workspace=two.root).code == 0  # up to date; no-op
    import shutil
    shutil.copytree(one.root / "train" / "r", two.root / "train" / "r", dirs_exist_ok=True)
    g = _torchrun(2, two.root, "generate", "--run-name", "r", "max_new_tokens=8", "--batch-size", "2")
    assert g.returncode == 0, g.stderr[-3000:]
    assert (one.root / "generate/r/test/preds.jsonl").read_text() == (two.root / "generate/r/test/preds.jsonl").read_text()
    assert not list((two.root / "generate/r/test").glob("preds.rank-*"))
