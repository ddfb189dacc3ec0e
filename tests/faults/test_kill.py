"""kill -9 at several points of embed, train and generate, then rerun: the result equals an
uninterrupted run's, and a killed stage is never reported up to date while it is partial."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.faults.harness import run, run_and_kill, states

pytestmark = pytest.mark.e2e

EMBED = ["embed", "--dataset", "syn", "--encoder", "tiny-medclip-vit", "--workers", "0", "--batch-size", "4",
         "shard_size=4"]
TRAIN = ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit",
         "--run-name", "r", "optim.max_steps=12", "optim.batch_size=4", "save_every=3", "keep_last=10"]
GENERATE = ["generate", "--run", "r", "--split", "train", "--batch-size", "2", "--max-new-tokens", "12"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A prepared synthetic set, and the uninterrupted reference of every stage (in subprocesses, like
    the killed runs, so every run has the same thread settings)."""
    root = tmp_path_factory.mktemp("kill")
    ws = root / "ref"
    r = run_cli("prepare", "synthetic", "--n", "30", "--name", "syn", "--root", str(root / "data"), workspace=ws)
    assert r.code == 0, r.err
    for args in (EMBED, TRAIN, GENERATE):
        p = run(ws, *args)
        assert p.returncode == 0, p.stderr[-2000:]
    return ws


def _fresh(base: Path, tmp: Path, upto: str) -> Path:
    """A copy of the reference workspace holding only the stages before ``upto``."""
    ws = tmp / "ws"
    order = ["prepare", "embed", "train", "generate"]
    shutil.copytree(base, ws, ignore=shutil.ignore_patterns(*order[order.index(upto):]))
    return ws


def _features(ws: Path):
    import h5py
    with h5py.File(ws / "embed/syn/tiny-medclip-vit/features.h5") as f:
        return [i.decode() if isinstance(i, bytes) else i for i in f["ids"][:]], f["features"][:]


def _weights(ws: Path) -> dict:
    from safetensors.numpy import load_file
    return load_file(ws / "train/r/final/trainable.safetensors")


def _shards(ws: Path) -> int:
    return len(list((ws / "embed/syn/tiny-medclip-vit.partial").glob("shard-*.npz")))


def _step(ws: Path, n: int) -> bool:
    return (ws / f"train/r.partial/checkpoints/step-{n:06d}/trainable.safetensors").exists() and \
        (ws / f"train/r.partial/checkpoints/step-{n:06d}/state.json").exists()


def _preds(ws: Path) -> int:
    p = ws / "generate/r/train.partial/preds.jsonl"
    return sum(1 for _ in open(p)) if p.exists() else 0


@pytest.mark.parametrize("point", [1, 3])
def test_embed_killed_then_resumed(base, tmp_path, point):
    ws = _fresh(base, tmp_path, "embed")
    assert run_and_kill(ws, EMBED, lambda: _shards(ws) >= point), "embed finished before the kill point"
    assert states(ws)["embed/syn/tiny-medclip-vit"] == "partial"
    assert run(ws, *EMBED).returncode == 0
    ids, feats = _features(ws)
    ref_ids, ref_feats = _features(base)
    assert ids == ref_ids and np.array_equal(feats, ref_feats)
    assert states(ws)["embed/syn/tiny-medclip-vit"] == "up-to-date"


@pytest.mark.parametrize("point", [3, 9])
def test_train_killed_then_resumed(base, tmp_path, point):
    ws = _fresh(base, tmp_path, "train")
    assert run_and_kill(ws, TRAIN, lambda: _step(ws, point)), "training finished before the kill point"
    assert states(ws)["train/r"] == "partial"
    r = run(ws, *TRAIN, "--resume", "auto")
    assert r.returncode == 0, r.stderr[-2000:]
    got, ref = _weights(ws), _weights(base)
    assert sorted(got) == sorted(ref) and all(np.array_equal(got[k], ref[k]) for k in ref)
    assert [json.loads(l)["loss"] for l in open(ws / "train/r/metrics.jsonl")] == \
        [json.loads(l)["loss"] for l in open(base / "train/r/metrics.jsonl")]


@pytest.mark.parametrize("point", [2, 8])
def test_generate_killed_then_resumed(base, tmp_path, point):
    ws = _fresh(base, tmp_path, "generate")
    assert run_and_kill(ws, GENERATE, lambda: _preds(ws) >= point), "generation finished before the kill point"
    assert states(ws)["generate/r/train"] == "partial"
    assert run(ws, *GENERATE).returncode == 0
    key = lambda p: sorted(json.loads(l)["id"] + "\t" + json.loads(l)["prediction"] for l in open(p))
    assert key(ws / "generate/r/train/preds.jsonl") == key(base / "generate/r/train/preds.jsonl")
