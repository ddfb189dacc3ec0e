"""cxrgen generate: batched greedy == one at a time (left padding), resume after a crash, manifest, controls."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cxrgen.config.base import from_dict
from cxrgen.config.schema import GenerateConfig, TrainConfig
from cxrgen.data.records import ImageRef, Record
from cxrgen.models.recipes.prefix import PrefixRecipe
from cxrgen.stages import generate as gen
from tests.conftest import run_cli
from tests.train.fixtures import make_workspace
from tests.train.test_train import SMALL


class _Prompted(PrefixRecipe):
    """Prefix recipe with a text prompt of a different length per study (exercises left padding)."""

    def layout_row(self, example):
        return {"pre": list(range(3, 3 + int(example["id"][-1]) % 4 * 2)), "n_visual": self.cfg.prefix_len}


@pytest.mark.parametrize("beams", [1, 3])
def test_batched_generation_equals_one_at_a_time(beams):
    torch.manual_seed(0)
    cfg = from_dict(TrainConfig, {"llm": "tiny-gpt2", "prefix_len": 3, "clip_len": 2, "mapper": {"layers": 1}})
    rec = _Prompted.create(cfg).eval()
    g = from_dict(GenerateConfig, {"beams": beams, "max_new_tokens": 12, "repetition_penalty": 1.5})
    exs = [{"id": f"s{i}", "reference": "", "features": np.random.default_rng(i).standard_normal(512).astype(np.float32)}
           for i in range(6)]
    batched = gen.generate_batch(rec, rec.collate(exs, with_targets=False), g, torch.device("cpu"))
    single = [gen.generate_batch(rec, rec.collate([e], with_targets=False), g, torch.device("cpu"))[0] for e in exs]
    assert batched == single
    assert len(set(batched)) > 1 and all(batched)


def test_shuffled_is_a_fixed_derangement_of_images():
    recs = [Record(id=f"r{i}", patient_id="p", split="test", report=f"rep {i}",
                   images=[ImageRef(path=f"{i}.png", view="PA", image_id=f"img{i}")]) for i in range(7)]
    a, b = gen.shuffled(recs, 3), gen.shuffled(recs, 3)
    assert [r.images for r in a] == [r.images for r in b]
    assert [r.id for r in a] == [r.id for r in recs] and [r.report for r in a] == [r.report for r in recs]
    assert all(x.images[0].image_id != f"img{i}" for i, x in enumerate(a))
    assert sorted(x.images[0].image_id for x in a) == sorted(f"img{i}" for i in range(7))
    assert [r.images for r in gen.shuffled(recs, 4)] != [r.images for r in a]


@pytest.fixture
def trained(tmp_path):
    ws = make_workspace(tmp_path / "w", n_train=8, n_val=0, n_test=7)
    r = run_cli("train", "--mode", "prefix", "--llm", "tiny-gpt2", "--run", "r", "optim.max_steps=3", "save_every=2",
                *SMALL, workspace=ws.root)
    assert r.code == 0, r.err
    return ws


def test_generate_resumes_skipping_finished_ids(trained, monkeypatch, caplog):
    from cxrgen.utils.faults import FaultInjected
    ws = trained
    cfg = from_dict(GenerateConfig, {"run": "r", "max_new_tokens": 6, "batch_size": 2})
    monkeypatch.setenv("CXRGEN_FAIL_AT", "generate.batch:2")   # dies after the 2nd batch is written
    with pytest.raises(FaultInjected):
        gen.run(cfg, ws=ws)
    partial = ws.root / "generate/r/test.partial/preds.jsonl"
    assert len(partial.read_text().splitlines()) == 4
    with open(partial, "a") as f:
        f.write('{"id": "s00')  # torn line from a kill
    monkeypatch.delenv("CXRGEN_FAIL_AT")
    with caplog.at_level("INFO", logger="cxrgen.stages.generate"):
        gen.run(cfg, ws=ws)
    assert "resuming: 4 of 7 predictions already written" in caplog.text   # only 3 studies decoded
    resumed = (ws.root / "generate/r/test/preds.jsonl").read_text()
    gen.run(cfg, ws=ws, force=True)
    assert (ws.root / "generate/r/test/preds.jsonl").read_text() == resumed
    rows = [json.loads(l) for l in resumed.splitlines()]
    assert [r["id"] for r in rows] == [f"s{i:04d}" for i in range(8, 15)]
    assert set(rows[0]) == {"id", "prediction", "reference"}


def test_generate_cli_manifest_and_errors(trained):
    ws = trained
    r = run_cli("generate", "--run", "r", "--beams", "3", "--repetition-penalty", "2.0", "--length-penalty", "2.0",
                "--max-new-tokens", "5", "--limit", "3", workspace=ws.root)
    assert r.code == 0, r.err
    m = json.loads((ws.root / "generate/r/test/manifest.json").read_text())
    assert m["extra"]["decoding"]["beams"] == 3 and m["extra"]["decoding"]["repetition_penalty"] == 2.0
    assert m["extra"]["model"] == {"mode": "prefix", "llm": "tiny-gpt2", "llm_source": "tiny-gpt2", "run": "r",
                                   "train_fingerprint": json.loads((ws.root / "train/r/manifest.json").read_text())["fingerprint"]}
    from cxrgen.workspace.hashing import file_sha256
    assert m["extra"]["checkpoint"]["sha256"] == file_sha256(ws.root / "train/r/final/trainable.safetensors")
    assert m["counts"]["predictions"] == 3
    r = run_cli("generate", "--run", "r", "--checkpoint", "step-000009", workspace=ws.root)
    assert r.code == 3 and "no such checkpoint; available: final, step-000002" in r.err
    r = run_cli("generate", "--run", "nope", workspace=ws.root)
    assert r.code == 4 and "train/nope is missing" in r.err
    shuffled = run_cli("generate", "--run", "r", "--shuffle-features", "--max-new-tokens", "5", "--limit", "3",
                       workspace=ws.root)
    assert shuffled.code == 0
    assert json.loads((ws.root / "generate/r/test-shuffled/manifest.json").read_text())["extra"]["decoding"]["shuffle_features"]
    assert json.loads((ws.root / "generate/r/test/manifest.json").read_text())["counts"]["predictions"] == 3


def test_repetition_penalty_matches_transformers_on_unpadded_rows():
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor
    torch.manual_seed(1)
    ids, scores = torch.randint(0, 50, (3, 7)), torch.randn(3, 50)
    ours = gen.RepetitionPenalty(2.0)(ids, scores.clone())
    theirs = RepetitionPenaltyLogitsProcessor(2.0)(ids, scores.clone())
    assert torch.equal(ours, theirs) and not torch.equal(ours, scores)
