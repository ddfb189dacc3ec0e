"""A sixth mode written in a test file with nothing but the documented Recipe contract
(class attributes, ``inputs``, ``layout_row``, ``input_embeds``), registered in MODES, trained and
generated with through the real CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cxrgen.models.catalog import MODES
from cxrgen.models.recipes.base import Recipe, text_ids
from cxrgen.registry import Entry
from tests.conftest import run_cli
from tests.train.fixtures import make_workspace

N_VISUAL = 2


class ToyRecipe(Recipe):
    """Pooled image embedding → Linear → 2 visual tokens after a one-word prompt; LLM frozen."""
    mode = "toy"
    reads = "features"
    frozen_llm = True
    default_encoder = "medclip-vit"

    def __init__(self, cfg, llm, feature_dim=None):
        super().__init__(cfg, llm, feature_dim)
        self.proj = torch.nn.Linear(feature_dim or 512, N_VISUAL * llm.hidden_size)
        self.freeze()

    def inputs(self, record, ctx):
        # a prompt whose length differs per study, so generation's length sorting has work to do
        words = "image " * (1 + int(record.id[-1]) % 3)
        return {"pre": text_ids(ctx.tokenizer, words.strip()),
                "features": ctx.store.study([im.image_id for im in record.images]).astype(np.float32)}

    def layout_row(self, example):
        return {"pre": example["pre"], "n_visual": N_VISUAL}

    def input_embeds(self, batch):
        visual = self.proj(batch["features"]).view(len(batch["ids"]), N_VISUAL, -1)
        return self.embed_layout(batch, visual)


@pytest.fixture
def toy_mode():
    MODES.register("toy", Entry(f"{__name__}:ToyRecipe", {}), "test-only toy recipe")
    yield
    MODES._items.pop("toy")
    MODES._descriptions.pop("toy")


def test_toy_recipe_trains_and_generates_in_record_order(tmp_path, toy_mode, monkeypatch):
    torch.set_num_threads(1)
    ws = make_workspace(tmp_path / "w", n_train=8, n_val=4, n_test=5)
    args = ["train", "--mode", "toy", "--llm", "tiny-gpt2", "--run", "t", "optim.max_steps=4",
            "optim.batch_size=4", "save_every=2", "max_len=16"]
    r = run_cli(*args, workspace=ws.root)
    assert r.code == 0, r.err
    run = ws.root / "train/t"
    m = json.loads((run / "manifest.json").read_text())
    d = ToyRecipe.create(_cfg()).llm.hidden_size
    assert m["counts"]["steps"] == 4 and m["counts"]["train_examples"] == 8 and m["counts"]["val_examples"] == 4
    assert m["extra"]["trainable_params"] == 512 * N_VISUAL * d + N_VISUAL * d
    assert m["extra"]["encoder"] == "medclip-vit" and m["extra"]["val_loss"] is not None
    # only the recipe's own trainable tensors are saved, and the adapter names the mode
    assert sorted(load_file(run / "final/trainable.safetensors")) == ["proj.bias", "proj.weight"]
    assert json.loads((run / "final/adapter_config.json").read_text())["mode"] == "toy"
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4]   # log_every 10, but each epoch (2 steps) ends with validation, which logs

    # generation sorts each chunk by prompt length: the first batch written holds the two shortest prompts
    # (test ids s0012…s0016 have prompts of 3, 1, 2, 3, 1 words: s0013 and s0016 come first) ...
    monkeypatch.setenv("CXRGEN_FAIL_AT", "generate.batch:1")
    r = run_cli("generate", "--run", "t", "max_new_tokens=5", "--batch-size", "2", workspace=ws.root)
    assert r.code == 130
    first = [json.loads(line)["id"] for line in (ws.root / "generate/t/test.partial/preds.jsonl").read_text().splitlines()]
    assert first == ["s0013", "s0016"]
    monkeypatch.delenv("CXRGEN_FAIL_AT")
    # ... and preds.jsonl is written in record order all the same
    r = run_cli("generate", "--run", "t", "max_new_tokens=5", "--batch-size", "2", workspace=ws.root)
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in (ws.root / "generate/t/test/preds.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"s{i:04d}" for i in range(12, 17)]   # record order restored
    assert all(set(row) == {"id", "prediction", "reference"} for row in rows)


def _cfg():
    from cxrgen.config.base import from_dict
    from cxrgen.config.schema import TrainConfig
    return from_dict(TrainConfig, {"mode": "toy", "llm": "tiny-gpt2"})
