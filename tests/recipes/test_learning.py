"""Every recipe learns from its image input: after a short CPU run on two report classes, the
report loss with the study's own input is clearly lower than with another class's input, the loss
went down, and generation returns text. Tiny models (tiny-llama, tiny Swin), same code path.

A frozen *random* LLM cannot be steered by a prefix (its logits are nearly flat), so, like the real
setting, the frozen LLM is first "pretrained": a few full steps of plain language modelling on the
report texts. The recipe must then learn which report the image input calls for."""

from __future__ import annotations

import random

import pytest
import torch

from tests.recipes.conftest import make_records, write_images, write_store

pytestmark = pytest.mark.e2e  # ~2 min of CPU training in all


def _fit(rec, examples, *, steps: int, lr: float, bs: int = 8, seed: int = 0) -> list[float]:
    g = random.Random(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW([p for p in rec.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    rec.train()
    losses = []
    for _ in range(steps):
        batch = rec.collate(g.sample(examples, bs), with_targets=True)
        loss = rec(batch)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.detach()))
    return losses


def _pretrain_lm(rec, texts, *, steps: int = 60, lr: float = 1e-2) -> None:
    tok = rec.llm.tokenizer
    rows = [[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
    n = max(map(len, rows))
    ids = torch.tensor([r + [rec.llm.pad_id] * (n - len(r)) for r in rows])
    labels = torch.tensor([r + [-100] * (n - len(r)) for r in rows])
    params = list(rec.lm.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr)
    torch.manual_seed(0)
    rec.lm.train()
    for _ in range(steps):
        rec.lm(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    rec.freeze()


def _report_nll(rec, examples) -> torch.Tensor:
    """Summed report NLL per example (the whole report is one decision: which finding to write)."""
    rec.eval()
    batch = rec.collate(examples, with_targets=True)
    with torch.no_grad():
        out = rec.lm(inputs_embeds=rec.embed_layout(batch, _visual(rec, batch)),
                     attention_mask=batch["attention_mask"], use_cache=False)
    logp = torch.log_softmax(out.logits[:, :-1].float(), -1)
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    tok = logp.gather(-1, labels.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return -(tok * mask).sum(1)


def _visual(rec, batch):
    if hasattr(rec, "visual_tokens"):
        return rec.visual_tokens(batch)
    if hasattr(rec, "_visual"):
        return rec._visual(batch)
    return None


def _swap(examples, keys):
    """Give each study the input of the next one (alternating classes → always the other class)."""
    out = []
    for i, e in enumerate(examples):
        other = examples[(i + 1) % len(examples)]
        out.append({**e, **{k: other[k] for k in keys}})
    return out


def _generate(rec, examples) -> list[str]:
    rec.eval()
    batch = rec.collate(examples, with_targets=False)
    with torch.no_grad():
        ids = rec.lm.generate(**rec.prepare_generation(batch), max_new_tokens=12, do_sample=False,
                              pad_token_id=rec.llm.pad_id, eos_token_id=rec.llm.eos_id)
    return rec.llm.tokenizer.batch_decode(ids, skip_special_tokens=True)


def _check(rec, ctx, train_recs, test_recs, keys, *, steps, lr, bs=8):
    _pretrain_lm(rec, sorted({r.report for r in train_recs}))
    train = [rec.example(r, ctx, with_targets=True) for r in train_recs]
    test = [rec.example(r, ctx, with_targets=True) for r in test_recs]
    losses = _fit(rec, train, steps=steps, lr=lr, bs=bs)
    assert sum(losses[-3:]) < sum(losses[:3]), losses
    # the report written for a study's own input vs for the other class's input (alternating classes)
    own, shuffled = _report_nll(rec, test), _report_nll(rec, _swap(test, keys))
    right = (own < shuffled).float().mean().item()
    assert right >= 0.85, (own, shuffled)
    assert own.median() < shuffled.median() - 0.5, (own, shuffled)
    gen = [rec.example(r, ctx, with_targets=False) for r in test_recs[:2]]
    texts = _generate(rec, gen)
    assert len(texts) == 2 and all(t.strip() for t in texts)
    return own, shuffled


@pytest.mark.parametrize("mode", ["shallow", "dual"])
def test_feature_recipes_use_the_image(tmp_path, tiny_cfg, mode):
    from cxrgen.models.catalog import MODES
    from cxrgen.models.recipes.base import DataContext
    recs = make_records(24)
    store = write_store(tmp_path / "f.h5", recs, dim=32, tokens=4)
    extra = ("dual.heads=4",) if mode == "dual" else ()
    cls = MODES.get(mode).load()
    rec = cls.create(tiny_cfg(mode, *extra), feature_dim=32)
    ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=32, store=store)
    _check(rec, ctx, recs[:16], recs[16:], ["features"], steps=40, lr=3e-3)


def test_qlora_reads_the_scores(tmp_path, tiny_cfg):
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.recipes.qlora import QloraRecipe
    recs = make_records(24)
    store = write_store(tmp_path / "f.h5", recs, scores=True)
    rec = QloraRecipe.create(tiny_cfg("qlora", "lora.dropout=0.0"))
    assert rec.adapter_config()["quant"] == "auto"
    assert not any(p.requires_grad for n, p in rec.named_parameters() if "lora_" not in n)
    ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=32, store=store)
    _check(rec, ctx, recs[:16], recs[16:], ["pre"], steps=30, lr=3e-3, bs=4)


@pytest.mark.parametrize("mode", ["delta", "deep"])
def test_image_recipes_encode_on_the_fly(tmp_path, tiny_cfg, mode):
    from cxrgen.models.catalog import MODES
    from cxrgen.models.recipes.base import DataContext
    recs = make_records(24)
    write_images(tmp_path, recs)
    rec = MODES.get(mode).load().create(tiny_cfg(mode, "encoder=tiny-swin-grid"))
    trainable = {n.split(".")[0] for n, p in rec.named_parameters() if p.requires_grad}
    assert trainable == {"encoder", "projector"}
    if mode == "delta":
        assert all("lora_" in n for n, p in rec.encoder.named_parameters() if p.requires_grad)
    ctx = DataContext(tokenizer=rec.llm.tokenizer, max_len=32, image_root=tmp_path)
    _check(rec, ctx, recs[:16], recs[16:], ["pixels"], steps=30, lr=3e-3)
