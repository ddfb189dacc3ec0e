"""`generate --images` equals `embed` + `generate` for every image mode, not only prefix tuning.

The R2GenGPT modes read a grid cache (shallow) or the images themselves through the prepare root (delta,
deep); qlora reads a DenseNet cache and dual a ViT cache. Studies here have one or two views (frontal +
lateral, one frontal a DICOM file), copied outside the data set into one folder per study.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

ENC = {"shallow": "tiny-swin-grid", "delta": "tiny-swin-grid", "deep": "tiny-swin-grid",
       "qlora": "tiny-xrv-densenet", "dual": "tiny-vit"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("newimages-modes") / "ws"
    r = run_cli("prepare", "synthetic", "--n", "16", "--views", "all", "--layout", "iu", "image_size=256", workspace=ws)
    assert r.code == 0, r.err
    for enc in sorted(set(ENC.values())):
        r = run_cli("embed", "--dataset", "synthetic", "--encoder", enc, "--workers", "0", workspace=ws)
        assert r.code == 0, r.err
    return ws


def _copy_test_studies(ws, dest):
    """Each test study's images as ``dest/<id>/<k>-<view>.<ext>``, in the record's order; returns the records."""
    root = json.loads((ws / "prepare" / "synthetic" / "manifest.json").read_text())["extra"]["root"]
    recs = [json.loads(x) for x in (ws / "prepare" / "synthetic" / "records.jsonl").read_text().splitlines()]
    recs = [r for r in recs if r["split"] == "test"]
    for r in recs:
        for k, im in enumerate(r["images"]):
            dst = dest / r["id"] / f"{k}-{im['view'].lower()}.{im['path'].rsplit('.', 1)[1]}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f"{root}/{im['path']}", dst)
    return recs


@pytest.mark.parametrize("mode", list(ENC))
def test_new_images_equal_the_prepared_path_per_mode(workspace, tmp_path, mode):
    import torch
    torch.set_num_threads(1)
    run = f"{mode}-new"
    extra = ["dual.heads=4"] if mode == "dual" else []
    r = run_cli("train", "--mode", mode, "--llm", "tiny-llama", "--encoder", ENC[mode], "--run", run,
                "optim.max_steps=2", "optim.batch_size=4", "max_len=24", *extra, workspace=workspace)
    assert r.code == 0, r.err[-2000:]
    r = run_cli("generate", "--run", run, "max_new_tokens=12", workspace=workspace)
    assert r.code == 0, r.err[-2000:]
    prepared = {json.loads(x)["id"]: json.loads(x)["prediction"]
                for x in (workspace / "generate" / run / "test" / "preds.jsonl").read_text().splitlines()}
    recs = _copy_test_studies(workspace, tmp_path / "new")
    assert any(len(r["images"]) == 2 for r in recs)          # a frontal + lateral study is among them
    r = run_cli("generate", "--run", run, "--images-dir", str(tmp_path / "new"), "--json", "max_new_tokens=12",
                workspace=workspace)
    assert r.code == 0, r.err[-2000:]
    rows = {json.loads(x)["id"]: json.loads(x) for x in r.out.splitlines()}
    assert sorted(rows) == sorted(prepared) == sorted(x["id"] for x in recs)
    assert {k: v["prediction"] for k, v in rows.items()} == prepared
    assert {k: len(v["views"]) for k, v in rows.items()} == {x["id"]: len(x["images"]) for x in recs}
