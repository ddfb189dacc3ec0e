"""``--mode dual``: ViT patch features → content + topic encoders → projector → frozen LLaMA-2-7B,
trained with 0.5·LM + 0.5·InfoNCE (τ 0.07) against the frozen LLM's embeddings of the report.

Model and loss are in :mod:`cxrgen.models.dual` (with what the paper states and what is our choice).
The sequence is ``<s> [T content tokens][K topic tokens] [report] </s>``: the paper gives no text
prompt, so the visual tokens are the whole prefix. A study's views are averaged over their patch
features (as R2GenGPT does, which the paper compares against).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cxrgen.errors import InputError
from cxrgen.models.dual import DualEncoder, info_nce, masked_mean
from cxrgen.models.recipes.base import DataContext, Recipe, registry_dim, text_ids


def topic_embeddings(llm: Any, topics: tuple[str, ...]) -> torch.Tensor:
    """(K, d) frozen LLM input embeddings of the topic words (mean over each word's sub-tokens)."""
    emb = llm.model.get_input_embeddings()
    w = emb.weight
    if w.device.type == "meta" or llm.tokenizer is None:
        return torch.zeros(len(topics), w.shape[1], device=w.device)
    rows = []
    with torch.no_grad():
        for t in topics:
            ids = text_ids(llm.tokenizer, t) or text_ids(llm.tokenizer, " " + t)
            rows.append(emb(torch.tensor(ids, device=w.device)).float().mean(0))
    return torch.stack(rows)


class DualRecipe(Recipe):
    mode = "dual"
    reads = "features"
    frozen_llm = True
    default_encoder = "vit-base"

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm)
        dc = cfg.dual
        in_dim = feature_dim or registry_dim(self.encoder_name(cfg))
        self.encoder = DualEncoder(in_dim, llm.hidden_size, topic_embeddings(llm, dc.topics),
                                   content_layers=dc.content_layers, topic_layers=dc.topic_layers, heads=dc.heads)
        self.freeze()

    def components(self) -> dict:
        e = self.encoder
        return {"content_encoder": e.content, "topic_encoder": torch.nn.ModuleList([e.topic_in, e.topic]),
                "projector": torch.nn.ModuleList([e.norm, e.proj]), "llm": self.lm}

    def freeze(self) -> None:
        self.lm.requires_grad_(False)
        self.encoder.requires_grad_(True)

    def adapter_config(self) -> dict:
        dc = self.cfg.dual
        return {**super().adapter_config(), "in_dim": self.encoder.in_dim,
                "dual": {"content_layers": dc.content_layers, "topic_layers": dc.topic_layers, "heads": dc.heads,
                         "topics": list(dc.topics), "temperature": dc.temperature,
                         "infonce_weight": dc.infonce_weight}}

    # --- data --------------------------------------------------------------------------------------
    def inputs(self, record: Any, ctx: DataContext) -> dict:
        if ctx.store is None:
            raise InputError("mode dual needs ViT patch features: run `cxrgen embed --encoder vit-base` first")
        if not ctx.store.tokens:
            raise InputError(f"{ctx.store.path}: pooled features {ctx.store.shape}; mode dual needs patch "
                             "features (N×T×D), e.g. --encoder vit-base")
        if not record.images:
            raise InputError(f"record {record.id!r} has no images")
        bos = ctx.tokenizer.bos_token_id
        return {"pre": [bos] if bos is not None else [],
                "features": ctx.store.study([im.image_id for im in record.images]).astype(np.float32)}

    def layout_row(self, example: dict) -> dict:
        return {"pre": example["pre"], "n_visual": example["features"].shape[0] + self.encoder.n_topics}

    # --- model --------------------------------------------------------------------------------------
    def _visual(self, batch: dict) -> torch.Tensor:
        return self.encoder(batch["features"].to(self.encoder.proj.weight.dtype))

    def forward(self, batch: dict) -> dict:
        visual = self._visual(batch)
        emb = self.embed_layout(batch, visual)
        out = self.lm(inputs_embeds=emb, attention_mask=batch["attention_mask"], labels=batch["labels"],
                      use_cache=False)
        dc = self.cfg.dual
        # report side: the frozen LLM's input embeddings of the report tokens (EOS excluded), mean-pooled
        report = batch["target_pos"] & (batch["seq_ids"] != self.llm.eos_id)
        with torch.no_grad():
            text = self.lm.get_input_embeddings()(batch["seq_ids"])
        t = masked_mean(text.float(), report)
        v = visual.float().mean(1)
        if v.shape[0] > 1:
            nce = info_nce(v, t, dc.temperature)
        else:  # a single pair has no negatives
            nce = out.loss.new_zeros(())
        loss = (1.0 - dc.infonce_weight) * out.loss + dc.infonce_weight * nce
        return {"loss": loss, "lm_loss": out.loss.detach(), "infonce": nce.detach()}

    def input_embeds(self, batch: dict) -> torch.Tensor:
        return self.embed_layout(batch, self._visual(batch))
