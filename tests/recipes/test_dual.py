"""The dual recipe's pieces: InfoNCE, pooling, the encoder's output, and the 0.5/0.5 loss."""

from __future__ import annotations

import math

import torch

from tests.recipes.conftest import make_records, write_store


def test_info_nce_is_symmetric_cross_entropy_over_the_batch():
    from cxrgen.models.dual import info_nce
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    t = 0.07
    # normalised: a = [e1, e2], b = [e1, (e1+e2)/√2]; logits[i][j] = a_i·b_j / t
    s = 1 / math.sqrt(2)
    logits = torch.tensor([[1.0, s], [0.0, s]]) / t
    want = 0.5 * (torch.nn.functional.cross_entropy(logits, torch.arange(2))
                  + torch.nn.functional.cross_entropy(logits.t(), torch.arange(2)))
    assert torch.allclose(info_nce(a, b, t), want)
    assert info_nce(torch.eye(4), torch.eye(4), 0.07) < 3 * math.exp(-1 / 0.07) + 1e-7


def test_masked_mean_ignores_masked_positions():
    from cxrgen.models.dual import masked_mean
    x = torch.arange(12, dtype=torch.float32).reshape(1, 4, 3)
    m = torch.tensor([[True, False, True, False]])
    assert masked_mean(x, m).tolist() == [[3.0, 4.0, 5.0]]


def test_loss_is_half_lm_half_infonce_and_topics_come_from_the_llm(tmp_path, tiny_cfg):
    from cxrgen.models.dual import info_nce, masked_mean
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.dual import DualRecipe
    recs = make_records(4)
    store = write_store(tmp_path / "f.h5", recs, dim=32, tokens=4)
    rec = DualRecipe.create(tiny_cfg("dual", "dual.heads=4", "dual.topics=findings,impression,heart",
                                     "dual.target=embeddings"), feature_dim=32)
    tok = rec.llm.tokenizer
    emb = rec.lm.get_input_embeddings().weight
    ids = tok("heart", add_special_tokens=False)["input_ids"]
    assert torch.allclose(rec.encoder.topic_embeds[2], emb[ids].mean(0))
    ctx = DataContext(tokenizer=tok, max_len=32, store=store)
    batch = rec.collate([rec.example(r, ctx, with_targets=True) for r in recs], with_targets=True)
    assert int(batch["visual_pos"][0].sum()) == 4 + 3          # patch tokens + one per topic
    rec.eval()
    with torch.no_grad():
        out = rec(batch)
        vis = rec.encoder(batch["features"])
        keep = (batch["labels"] != -100) & (batch["labels"] != rec.llm.eos_id)
        text = masked_mean(rec.lm.get_input_embeddings()(batch["labels"].clamp_min(0)), keep)
        nce = info_nce(vis.mean(1), text, 0.07)
    assert torch.allclose(out["infonce"], nce)
    assert torch.allclose(out["loss"], 0.5 * out["lm_loss"] + 0.5 * nce)
    assert sorted(n.split(".")[0] for n, p in rec.named_parameters() if p.requires_grad)[0] == "encoder"
    assert not any(p.requires_grad for p in rec.lm.parameters())


def _hidden_mean(rec, report_ids):
    """By hand: BOS + report through the frozen LLM, mean of the last hidden states over the report."""
    bos = rec.llm.tokenizer.bos_token_id
    ids = torch.tensor([[bos] + list(report_ids)])
    with torch.no_grad():
        h = rec.lm(input_ids=ids, output_hidden_states=True).hidden_states[-1][0]
    return h[1:].float().mean(0)


def test_contrastive_target_is_the_frozen_llms_last_hidden_states(tmp_path, tiny_cfg):
    """dual.target=hidden (default): the mean of the LLM's last hidden states over the report tokens (EOS
    excluded), computed under no_grad and cached per record; changing a later token, or only the order
    of the tokens, changes it — neither moves a mean of input embeddings in the order case."""
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.dual import DualRecipe
    recs = make_records(2)
    store = write_store(tmp_path / "f.h5", recs, dim=32, tokens=4)
    rec = DualRecipe.create(tiny_cfg("dual", "dual.heads=4"), feature_dim=32)
    assert rec.cfg.dual.target == "hidden"
    rec.eval()
    tok = rec.llm.tokenizer
    ctx = DataContext(tokenizer=tok, max_len=32, store=store)
    batch = rec.collate([rec.example(r, ctx, with_targets=True) for r in recs], with_targets=True)
    t = rec.report_target(batch)
    for i, r in enumerate(recs):
        ids = tok(r.report, add_special_tokens=False)["input_ids"]
        assert torch.allclose(t[i], _hidden_mean(rec, ids), atol=1e-5)
    assert sorted(rec._targets) == ["s0", "s1"]                     # cached by record id
    assert torch.equal(rec.report_target(batch), t)
    with torch.no_grad():                                           # and it enters the loss
        out = rec(batch)
    from cxrgen.models.dual import info_nce
    with torch.no_grad():
        want = info_nce(rec.encoder(batch["features"]).mean(1), t, 0.07)
    assert torch.allclose(out["infonce"], want, atol=1e-6)
    # a later token changes the target; so does swapping two tokens (a contextual encoding)
    ids = tok(recs[0].report, add_special_tokens=False)["input_ids"]
    later = ids[:-1] + [ids[0] if ids[-1] != ids[0] else ids[1]]
    swapped = [ids[1], ids[0]] + ids[2:]
    base = _hidden_mean(rec, ids)
    assert not torch.allclose(base, _hidden_mean(rec, later), atol=1e-4)
    assert not torch.allclose(base, _hidden_mean(rec, swapped), atol=1e-4)
    emb = rec.lm.get_input_embeddings().weight
    assert torch.allclose(emb[ids].mean(0), emb[swapped].mean(0), atol=1e-6)


def test_dual_vit_trains_the_vit_on_squashed_224_images(tmp_path, tiny_cfg):
    """dual-vit: the ViT runs on the fly and trains with the encoders; images are resized without a crop."""
    import numpy as np

    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.dual import DualVitRecipe
    from tests.recipes.conftest import write_images
    recs = make_records(2)
    root = tmp_path / "img"
    write_images(root, recs, size=80)
    rec = DualVitRecipe.create(tiny_cfg("dual-vit", "encoder=tiny-vit", "dual.heads=4"))
    assert rec.vision.tokens == 17 and rec.vision._preprocess.squash
    assert all(p.requires_grad for p in rec.vision.model.parameters())
    assert not any(p.requires_grad for p in rec.lm.parameters())
    ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=32, image_root=root)
    exs = [rec.example(r, ctx, with_targets=True) for r in recs]
    assert exs[0]["pixels"].shape == (2, 3, 64, 64)                 # two views, tiny ViT input size
    batch = rec.collate(exs, with_targets=True)
    assert int(batch["visual_pos"][0].sum()) == 17 + 2
    out = rec(batch)
    out["loss"].backward()
    grads = [p.grad for p in rec.vision.model.parameters()]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    # no crop: a wide image keeps its left and right edges (a centre crop would cut them)
    from cxrgen.models.encoders.vit import VitPreprocess
    img = np.zeros((40, 120), dtype=np.float32)
    img[:, :10] = 1.0
    sq, crop = VitPreprocess(size=64, squash=True)(img), VitPreprocess(size=64, crop_pct=1.0)(img)
    assert float(sq[0, :, 0].mean()) > 0.9 and float(crop[0, :, 0].mean()) < -0.9
