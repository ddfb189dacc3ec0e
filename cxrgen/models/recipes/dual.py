"""``--mode dual`` / ``dual-vit``: ViT patch features → content + topic encoders → projector → frozen
LLaMA-2-7B, trained with 0.5·LM + 0.5·InfoNCE (τ 0.07) against the frozen LLM's encoding of the report.

Model and loss are in :mod:`cxrgen.models.dual` (with what the paper states and what is our choice).
The sequence is ``<s> [T content tokens][K topic tokens] [report] </s>``: the paper gives no text
prompt, so the visual tokens are the whole prefix. A study's views are averaged over their patch
features (as R2GenGPT does, which the paper compares against).

* ``dual``: the ViT is frozen and its patch features are read from the ``vit-base`` cache (cheap).
* ``dual-vit``: the paper's setting (§3.1: ViT initialised from ImageNet, only the LLM frozen): the ViT
  runs on the fly and trains with the encoders; images are resized to 224×224 without cropping.

Contrastive target (``dual.target``): ``hidden`` (default) encodes the report "using the frozen LLaMA"
(§2): BOS + report tokens (EOS excluded) through the frozen LLM under ``no_grad``, the mean of the last
hidden states over the report tokens, cached per record id (the LLM is frozen and in eval mode, so a
report's target never changes). ``embeddings``: the mean of the report tokens' input embeddings (no
transformer pass; the cheaper earlier choice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cxrgen.errors import InputError
from cxrgen.models.dual import DualEncoder, info_nce, masked_mean
from cxrgen.models.recipes.base import DataContext, Recipe, on_meta, registry_dim, text_ids


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
        self.vision = self.build_vision(cfg)
        in_dim = self.vision.dim if self.vision is not None else \
            (feature_dim or registry_dim(self.encoder_name(cfg)))
        self.encoder = DualEncoder(in_dim, llm.hidden_size, topic_embeddings(llm, dc.topics),
                                   content_layers=dc.content_layers, topic_layers=dc.topic_layers, heads=dc.heads)
        self._targets: dict[str, torch.Tensor] = {}   # record id → report target (frozen LLM: never changes)
        self.freeze()

    def build_vision(self, cfg: Any):
        """The on-the-fly image encoder (``dual-vit``), or None when patch features are read from the cache."""
        return None

    def components(self) -> dict:
        e = self.encoder
        parts = {"content_encoder": e.content, "topic_encoder": torch.nn.ModuleList([e.topic_in, e.topic]),
                 "projector": torch.nn.ModuleList([e.norm, e.proj]), "llm": self.lm}
        return {"visual_encoder": self.vision.model, **parts} if self.vision is not None else parts

    def freeze(self) -> None:
        self.lm.requires_grad_(False)
        self.encoder.requires_grad_(True)
        if self.vision is not None:
            self.vision.model.requires_grad_(True)

    def adapter_config(self) -> dict:
        dc = self.cfg.dual
        return {**super().adapter_config(), "in_dim": self.encoder.in_dim,
                "dual": {"content_layers": dc.content_layers, "topic_layers": dc.topic_layers, "heads": dc.heads,
                         "topics": list(dc.topics), "temperature": dc.temperature,
                         "infonce_weight": dc.infonce_weight, "target": dc.target},
                **({"vision": self.vision.name} if self.vision is not None else {})}

    # --- data --------------------------------------------------------------------------------------
    def inputs(self, record: Any, ctx: DataContext) -> dict:
        if self.vision is not None:
            if not record.images:
                raise InputError(f"record {record.id!r} has no images")
            bos = ctx.tokenizer.bos_token_id
            return {"pre": [bos] if bos is not None else [],
                    "pixels": self.vision.load_study(record, ctx.image_root)}          # (V, 3, 224, 224)
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
        tokens = self.vision.tokens if self.vision is not None else example["features"].shape[0]
        return {"pre": example["pre"], "n_visual": tokens + self.encoder.n_topics}

    def collate_inputs(self, examples: list[dict]) -> dict:
        if self.vision is None:
            return super().collate_inputs(examples)
        return {"pixels": [torch.from_numpy(np.asarray(e["pixels"])) for e in examples]}

    # --- model --------------------------------------------------------------------------------------
    def _visual(self, batch: dict) -> torch.Tensor:
        dtype = self.encoder.proj.weight.dtype
        if self.vision is not None:   # views averaged over their patch features, as with the cache
            feats = torch.stack([self.vision(px.to(self.encoder.proj.weight.device)).mean(0)
                                 for px in batch["pixels"]])
        else:
            feats = batch["features"]
        return self.encoder(feats.to(dtype))

    def report_target(self, batch: dict) -> torch.Tensor:
        """(B, d) contrastive target of each report in a batch with targets (see the module docstring)."""
        report = batch["target_pos"] & (batch["seq_ids"] != self.llm.eos_id)
        if self.cfg.dual.target == "embeddings":
            with torch.no_grad():
                text = self.lm.get_input_embeddings()(batch["seq_ids"])
            return masked_mean(text.float(), report)
        ids = batch["ids"]
        todo = [i for i, rid in enumerate(ids) if rid not in self._targets]
        if todo:
            for i, t in zip(todo, self._encode_reports([batch["seq_ids"][i][report[i]] for i in todo])):
                self._targets[ids[i]] = t.cpu()
        return torch.stack([self._targets[rid] for rid in ids]).to(batch["seq_ids"].device)

    @torch.no_grad()
    def _encode_reports(self, reports: list[torch.Tensor]) -> torch.Tensor:
        """Mean of the frozen LLM's last hidden states over each report's tokens (BOS first, not averaged)."""
        bos = self.llm.tokenizer.bos_token_id if self.llm.tokenizer is not None else None
        head = [bos] if bos is not None else []
        dev = reports[0].device
        n = max(len(head) + len(r) for r in reports)
        ids = torch.full((len(reports), n), self.llm.pad_id, dtype=torch.long, device=dev)
        mask = torch.zeros((len(reports), n), dtype=torch.long, device=dev)
        keep = torch.zeros((len(reports), n), dtype=torch.bool, device=dev)
        for i, r in enumerate(reports):
            row = torch.cat([torch.tensor(head, dtype=torch.long, device=dev), r.to(dev)])
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
            keep[i, len(head): len(row)] = True
        hidden = self.lm(input_ids=ids, attention_mask=mask, output_hidden_states=True,
                         use_cache=False).hidden_states[-1]
        return masked_mean(hidden.float(), keep)

    def forward(self, batch: dict) -> dict:
        visual = self._visual(batch)
        emb = self.embed_layout(batch, visual)
        out = self.lm(inputs_embeds=emb, attention_mask=batch["attention_mask"], labels=batch["labels"],
                      use_cache=False)
        dc = self.cfg.dual
        v = visual.float().mean(1)
        if v.shape[0] > 1:
            nce = info_nce(v, self.report_target(batch), dc.temperature)
        else:  # a single pair has no negatives
            nce = out.loss.new_zeros(())
        loss = (1.0 - dc.infonce_weight) * out.loss + dc.infonce_weight * nce
        return {"loss": loss, "lm_loss": out.loss.detach(), "infonce": nce.detach()}

    def input_embeds(self, batch: dict) -> torch.Tensor:
        return self.embed_layout(batch, self._visual(batch))


class DualVitRecipe(DualRecipe):
    """The paper's setting: the ImageNet ViT runs on the fly and trains; 224×224, no crop."""
    mode = "dual-vit"
    reads = "images"

    def build_vision(self, cfg: Any):
        from cxrgen.models.image_encoder import load_image_encoder
        return load_image_encoder(cfg.encoder or self.default_encoder, weights=cfg.encoder_weights, meta=on_meta(),
                                  squash=True)
