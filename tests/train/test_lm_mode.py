"""--mode lm: the LLM alone on report text with the impression as context; exports final/hf for --llm DIR."""

import json

import torch

from cxrgen.data.records import ImageRef, Record
from tests.conftest import run_cli
from tests.train.fixtures import make_workspace


def test_lm_layout_puts_the_impression_in_the_prefix_slots():
    from cxrgen.config.base import load_config
    from cxrgen.config.schema import TrainConfig
    from cxrgen.models.recipes.base import DataContext, IGNORE
    from cxrgen.models.recipes.lm import LanguageModelRecipe
    cfg = load_config(TrainConfig, {"mode": "lm", "llm": "tiny-gpt2", "prefix_len": 6, "max_len": 20})
    rec = LanguageModelRecipe.create(cfg)
    tok = rec.llm.tokenizer
    r = Record(id="a", patient_id="p", split="train", images=[ImageRef("x.png", "PA", "x")],
               report="heart size is normal .", impression="Heart normal.")
    ex = rec.example(r, DataContext(tokenizer=tok, max_len=20), with_targets=True)
    imp = tok("heart normal.", add_special_tokens=False)["input_ids"]
    assert ex["context"] == imp + [rec.llm.eos_id] * (6 - len(imp))
    batch = rec.collate([ex], with_targets=True)
    n_ctx = 6
    assert batch["labels"][0, :n_ctx].tolist() == [IGNORE] * n_ctx          # no loss on the context
    assert batch["labels"][0, n_ctx:].tolist() == ex["target"]               # report + EOS
    assert ex["target"][-1] == rec.llm.eos_id


def test_lm_run_exports_a_loadable_hf_folder(tmp_path):
    ws = make_workspace(tmp_path / "ws", n_train=8, n_val=2, n_test=2)
    r = run_cli("train", "--mode", "lm", "--llm", "tiny-gpt2", "--run", "lm", "optim.max_steps=2",
                "optim.batch_size=4", workspace=ws.root)
    assert r.code == 0, r.err
    hf = ws.root / "train/lm/final/hf"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in hf.iterdir()}
    manifest = json.loads((ws.root / "train/lm/manifest.json").read_text())
    assert "final/hf/model.safetensors" in manifest["outputs"]
    # the exported folder is an ordinary --llm DIR: same weights as the trained checkpoint
    from safetensors.torch import load_file
    from cxrgen.models.llms import load_llm
    llm = load_llm(str(hf))
    trained = load_file(ws.root / "train/lm/final/trainable.safetensors")
    own = dict(llm.model.named_parameters())
    for name, t in trained.items():
        assert torch.equal(own[name.removeprefix("lm.")], t), name
    # and a prefix run on top of it trains (the LLM frozen)
    r = run_cli("train", "--mode", "prefix", "--llm", str(hf), "--run", "p", "optim.max_steps=1",
                "optim.batch_size=4", workspace=ws.root)
    assert r.code == 0, r.err
