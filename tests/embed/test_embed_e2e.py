"""prepare synthetic → embed: every record image cached, and tiny MedCLIP features predict the drawn findings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.conftest import run_cli


def _probe(x: torch.Tensor, y: torch.Tensor, train: torch.Tensor) -> float:
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    torch.manual_seed(0)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x[train] @ w + b, y[train]) + 1e-2 * (w ** 2).sum()
        loss.backward()
        opt.step()
    return (((x[~train] @ w + b) > 0).float() == y[~train]).float().mean().item()


@pytest.mark.e2e
def test_prepare_synthetic_then_embed_features_follow_findings(ws):
    from cxrgen.data.features import FeatureStore
    assert run_cli("prepare", "synthetic", "--n", "240", workspace=ws).code == 0
    r = run_cli("embed", "--encoder", "tiny-medclip-vit", "--dry-run", workspace=ws)
    assert r.code == 0 and "images      " in r.out and "(prepare/synthetic)" in r.out
    r = run_cli("embed", "--encoder", "tiny-medclip-vit", "--batch-size", "16", workspace=ws)
    assert r.code == 0, r.err
    records = [json.loads(line) for line in (ws / "prepare/synthetic/records.jsonl").read_text().splitlines()]
    store = FeatureStore(ws / "embed/synthetic/tiny-medclip-vit/features.h5")
    assert store.ids == [i["image_id"] for rec in records for i in rec["images"]]
    x = torch.tensor(np.stack([store.get([rec["images"][0]["image_id"]])[0] for rec in records]))
    np.testing.assert_allclose(x.norm(dim=-1).numpy(), 1.0, atol=2e-3)   # L2-normalised (float16 storage)
    train = torch.arange(len(records)) < int(0.7 * len(records))
    for label in ("Cardiomegaly", "Pleural Effusion", "Support Devices"):
        y = torch.tensor([1.0 if rec["labels"].get(label) == 1 else 0.0 for rec in records])
        majority = max(y[~train].mean().item(), 1 - y[~train].mean().item())
        acc = _probe(x, y, train)
        assert acc >= majority + 0.1 and acc >= 0.85, (label, acc, majority)
