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
    rec = DualRecipe.create(tiny_cfg("dual", "dual.heads=4", "dual.topics=findings,impression,heart"),
                            feature_dim=32)
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
