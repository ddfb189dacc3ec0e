"""Every new mode through the real stages: prepare synthetic → embed (tiny encoder) → train (tiny-llama,
a few steps) → generate, in process. Checks that the chain runs, that delta/deep read the images
through the prepare root, and that the manifests carry the recipe's trainable parameter count."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

ENC = {"shallow": "tiny-swin-grid", "delta": "tiny-swin-grid", "deep": "tiny-swin-grid",
       "qlora": "tiny-xrv-densenet", "dual": "tiny-vit"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("chain") / "ws"
    r = run_cli("prepare", "synthetic", "--n", "16", "--views", "all", "--layout", "iu", "image_size=256",
                workspace=ws)
    assert r.code == 0, r.err
    for enc in ("tiny-swin-grid", "tiny-xrv-densenet", "tiny-vit"):
        r = run_cli("embed", "--dataset", "synthetic", "--encoder", enc, workspace=ws)
        assert r.code == 0, r.err
    return ws


@pytest.mark.parametrize("mode", ["shallow", "delta", "deep", "qlora", "dual"])
def test_mode_trains_and_generates(workspace, mode):
    import torch
    torch.set_num_threads(1)
    run = f"{mode}-chain"
    extra = ["dual.heads=4"] if mode == "dual" else []
    r = run_cli("train", "--mode", mode, "--llm", "tiny-llama", "--encoder", ENC[mode], "--run", run,
                "optim.max_steps=2", "optim.batch_size=4", "max_len=24", *extra, workspace=workspace)
    assert r.code == 0, r.err
    m = json.loads((workspace / "train" / run / "manifest.json").read_text())
    dry = json.loads(run_cli("train", "--mode", mode, "--llm", "tiny-llama", "--encoder", ENC[mode], *extra,
                             "--dry-run", "--json", workspace=workspace).out)
    extra_m = m.get("extra") or m
    assert extra_m.get("trainable_params") == dry["trainable_params"] > 0
    inputs = json.dumps(m.get("inputs"))
    assert ("embed" in inputs) == (mode not in ("delta", "deep"))   # delta/deep read images, not a cache
    r = run_cli("generate", "--run", run, "--limit", "2", "max_new_tokens=6", "beams=2", workspace=workspace)
    assert r.code == 0, r.err
    preds = (workspace / "generate" / run / "test" / "preds.jsonl").read_text().splitlines()
    assert len(preds) == 2 and all("prediction" in json.loads(p) for p in preds)
