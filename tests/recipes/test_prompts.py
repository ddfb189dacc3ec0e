"""Prompts and sequence layouts exactly as the papers give them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.recipes.conftest import REPORTS, XRV_ORDER, make_records, write_store


def test_r2gengpt_prompt_text():
    from cxrgen.models.recipes import r2gengpt as r
    assert r.BEFORE + "{visual tokens}" + r.AFTER == (
        "Human: <Img>{visual tokens}</Img> Generate a comprehensive and detailed diagnosis report for this "
        "chest xray image. \nAssistant:")
    # decoding lives in the settings files only (R2GenGPT's released scripts/*_test*.sh)
    from importlib import resources

    import yaml
    presets = resources.files("cxrgen") / "presets" / "generate"
    iu = yaml.safe_load((presets / "r2gengpt-iu.yaml").read_text())
    mimic = yaml.safe_load((presets / "r2gengpt-mimic.yaml").read_text())
    assert iu == {"beams": 3, "repetition_penalty": 2.0, "length_penalty": 2.0, "min_new_tokens": 40, "max_new_tokens": 100}
    assert mimic == dict(iu, min_new_tokens=80, max_new_tokens=120)
    assert not hasattr(r, "DECODING")


def test_llama_xr_alpaca_prompt_of_figure_4():
    from cxrgen.models.recipes.qlora import alpaca_prompt
    p = alpaca_prompt([0.5] * 36)
    assert p.startswith("Below is an instruction that describes a task, paired with an input that provides "
                        "further context. Write a response that appropriately completes the request.\n\n"
                        "### Instruction:\nGenerate a medical report based on the given classification scores "
                        "from a patient's X-ray, which includes two views: Frontal and Lateral.")
    assert "Pleural Thickening, Pneumonia, and Pneumothorax. The first 18 values correspond to the Frontal view, " \
           "while the remaining 18 values correspond to the Lateral view.\n\n### Input:\n[0.5, 0.5," in p
    assert p.endswith("0.5]\n\n### Response:\n")


def test_scores_are_reordered_to_the_prompt_order_frontal_then_lateral(tmp_path, tiny_cfg):
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.qlora import CONDITIONS, QloraRecipe
    recs = make_records(2, views=("LATERAL", "PA"))        # lateral listed first on purpose
    store = write_store(tmp_path / "f.h5", recs, scores=True)
    rec = QloraRecipe.create(tiny_cfg("qlora"))
    ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=40, store=store)
    ex = rec.example(recs[1], ctx, with_targets=True)
    text = rec.llm.tokenizer.decode(ex["pre"], skip_special_tokens=True)
    values = eval(text.split("### Input:\n")[1].split("\n")[0])  # noqa: S307 - a list literal we wrote
    raw = store.scores(["s1-pa", "s1-lateral"])
    want = [float(np.float32(raw[v][XRV_ORDER.index(c.replace("Pleural Thickening", "Pleural_Thickening"))]))
            for v in (0, 1) for c in CONDITIONS]
    assert values == want
    assert values[CONDITIONS.index("Effusion")] > 0.9          # class-1 signal lands on the named slot
    # labels cover exactly the report + EOS
    batch = rec.collate([ex], with_targets=True)
    n_target = int((batch["labels"] != -100).sum())
    assert n_target == len(ex["target"]) and ex["target"][-1] == rec.llm.eos_id


def test_missing_view_repeats_the_other():
    from cxrgen.models.recipes.qlora import pick_views
    (r,) = make_records(1, views=("PA",))
    assert pick_views(r) == ("s0-pa", "s0-pa")
    (r,) = make_records(1, views=("LATERAL", "AP"))
    assert pick_views(r) == ("s0-ap", "s0-lateral")


def test_missing_score_label_is_an_error(tmp_path, tiny_cfg):
    from cxrgen.errors import InputError
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.qlora import QloraRecipe
    recs = make_records(2)
    store = write_store(tmp_path / "f.h5", recs, scores=True, score_labels=["Atelectasis"])
    rec = QloraRecipe.create(tiny_cfg("qlora"))
    with pytest.raises(InputError, match="pathology scores lack Cardiomegaly"):
        rec.example(recs[0], DataContext(rec.llm.tokenizer, 40, store=store), with_targets=True)


def test_shallow_layout_bos_prompt_49_visual_tokens_then_report(tmp_path, tiny_cfg):
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.r2gengpt import AFTER, BEFORE, ShallowRecipe
    recs = make_records(2)
    store = write_store(tmp_path / "f.h5", recs, dim=16, tokens=49)
    rec = ShallowRecipe.create(tiny_cfg("shallow"), feature_dim=16)
    tok = rec.llm.tokenizer
    ctx = DataContext(tokenizer=tok, max_len=100, store=store)
    ex = rec.example(recs[0], ctx, with_targets=True)
    # per-study mean over the views, before the projector
    assert np.allclose(ex["features"], store.get(["s0-pa", "s0-lateral"]).mean(0))
    b = rec.collate([ex, rec.example(recs[1], ctx, with_targets=True)], with_targets=True)
    row = b["seq_ids"][0].tolist()
    vis = b["visual_pos"][0].tolist()
    first = vis.index(True)
    assert row[0] == tok.bos_token_id
    assert tok.decode(row[1:first]) == BEFORE
    assert sum(vis) == 49
    k = first + 49 + len(tok(AFTER, add_special_tokens=False)["input_ids"])
    assert tok.decode(row[first + 49:k]) == AFTER
    labels = b["labels"][0].tolist()
    assert all(x == -100 for x in labels[:k])
    assert tok.decode([x for x in labels[k:] if x != -100], skip_special_tokens=True) == REPORTS[0]


def test_pooled_cache_is_refused_for_grid_recipes(tmp_path, tiny_cfg):
    from cxrgen.errors import InputError
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.r2gengpt import ShallowRecipe
    recs = make_records(2)
    store = write_store(tmp_path / "f.h5", recs, dim=16, tokens=0)
    rec = ShallowRecipe.create(tiny_cfg("shallow"), feature_dim=16)
    with pytest.raises(InputError, match="needs grid features"):
        rec.example(recs[0], DataContext(rec.llm.tokenizer, 40, store=store), with_targets=True)


def test_nf4_needs_cuda_and_bitsandbytes(monkeypatch):
    import sys

    from cxrgen.errors import ConfigError, DependencyError
    from cxrgen.models.quant import nf4_config, resolve_quant
    assert resolve_quant("auto", "cpu") == "none"
    assert resolve_quant("auto", "cuda:0") == "nf4"
    with pytest.raises(ConfigError, match="quant=nf4 needs a CUDA device"):
        resolve_quant("nf4", "cpu")
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)    # import fails as if not installed
    with pytest.raises(DependencyError, match=r"pip install 'cxrgen\[gpu\]'"):
        nf4_config()


def test_loss_on_all_labels_the_prompt_tokens(tmp_path, tiny_cfg):
    """LLaMA-XR's SFTTrainer: loss_on=all puts labels on the Alpaca prompt (BOS included), and on the report
    + EOS as before; loss_on=response labels only the report + EOS. Generation batches carry no labels."""
    import torch

    from cxrgen.models.recipes.base import IGNORE, DataContext
    from cxrgen.models.recipes.qlora import QloraRecipe
    recs = make_records(2)
    store = write_store(tmp_path / "f.h5", recs, scores=True)
    labels = {}
    for loss_on in ("response", "all"):
        rec = QloraRecipe.create(tiny_cfg("qlora", f"loss_on={loss_on}"))
        ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=40, store=store)
        ex = rec.example(recs[0], ctx, with_targets=True)
        batch = rec.collate([ex], with_targets=True)
        labels[loss_on] = batch["labels"][0]
        n_pre, n_tgt = len(ex["pre"]), len(ex["target"])
        assert torch.equal(batch["labels"][0, n_pre:n_pre + n_tgt], torch.tensor(ex["target"]))
        assert bool(batch["target_pos"][0, n_pre:n_pre + n_tgt].all()) and int(batch["target_pos"].sum()) == n_tgt
        if loss_on == "all":
            assert torch.equal(batch["labels"][0, :n_pre], torch.tensor(ex["pre"]))
            assert ex["pre"][0] == rec.llm.tokenizer.bos_token_id
        else:
            assert bool((batch["labels"][0, :n_pre] == IGNORE).all())
        gen = rec.collate([rec.example(recs[0], ctx, with_targets=False)], with_targets=False)
        assert bool((gen["labels"] == IGNORE).all())
        out = rec(batch)
        assert torch.isfinite(out["loss"])
    assert int((labels["all"] != IGNORE).sum()) == int((labels["response"] != IGNORE).sum()) + len(ex["pre"])


def test_loss_on_all_never_labels_visual_positions():
    from cxrgen.models.recipes.base import IGNORE, layout
    lay = layout([{"pre": [5, 6], "n_visual": 3, "post": [7], "target": [8, 9]}], pad_id=0, side="right",
                 loss_on="all")
    assert lay["labels"][0].tolist() == [5, 6, IGNORE, IGNORE, IGNORE, 7, 8, 9]
    assert lay["target_pos"][0].tolist() == [False] * 6 + [True, True]


def test_loss_on_rejects_other_values(cli):
    r = cli("train", "--mode", "qlora", "--llm", "tiny-llama", "loss_on=prompt", "--dry-run")
    assert r.code == 2 and "loss_on" in r.err
