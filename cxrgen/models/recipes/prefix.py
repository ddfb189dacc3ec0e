"""The resource-efficient MRG method: MedCLIP embedding → ClipCap mapper → prefix → GPT-2 / Qwen1.5.

``prefix``: the LLM is frozen (kept in eval mode, as ClipCap's ClipCaptionPrefix) and only the mapper
trains (Table I). ``finetune``: mapper and LLM train together (Table II). The sequence is
``[prefix_len mapper outputs][report tokens][EOS]`` and the loss covers the report tokens and EOS.
A study with several images uses the mean of their embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cxrgen.errors import ConfigError, InputError
from cxrgen.models.mapper import build_mapper
from cxrgen.models.recipes.base import DataContext, Recipe


class PrefixRecipe(Recipe):
    mode = "prefix"
    reads = "features"
    frozen_llm = True
    default_encoder = "medclip-vit"

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm, feature_dim)
        m = cfg.mapper
        if feature_dim is not None and feature_dim != m.in_dim:
            raise ConfigError(f"the feature cache has {feature_dim}-d embeddings but mapper.in_dim={m.in_dim}; "
                              f"set mapper.in_dim={feature_dim} or embed with a 512-d encoder")
        self.mapper = build_mapper(m.kind, in_dim=m.in_dim, d=llm.hidden_size, prefix_len=cfg.prefix_len,
                                   clip_len=cfg.clip_len, layers=m.layers, heads=m.heads, mlp_ratio=m.mlp_ratio)
        self.freeze()

    def components(self) -> dict:
        return {"mapper": self.mapper, "llm": self.lm}

    def freeze(self) -> None:
        self.lm.requires_grad_(False)
        self.mapper.requires_grad_(True)

    def adapter_config(self) -> dict:
        m = self.cfg.mapper
        return {**super().adapter_config(), "mapper": {"kind": m.kind, "in_dim": m.in_dim, "layers": m.layers,
                                                       "heads": m.heads, "mlp_ratio": m.mlp_ratio},
                "prefix_len": self.cfg.prefix_len, "clip_len": self.cfg.clip_len}

    # --- data --------------------------------------------------------------------------------------
    def inputs(self, record: Any, ctx: DataContext) -> dict:
        if ctx.store is None:
            raise InputError("the prefix recipe needs a feature cache (run `cxrgen embed` first)")
        if ctx.store.tokens:
            raise InputError(f"{ctx.store.path}: grid features ({ctx.store.shape}); the prefix recipe needs "
                             "pooled embeddings (e.g. --encoder medclip-vit)")
        image_ids = [im.image_id for im in record.images]
        if not image_ids:
            raise InputError(f"record {record.id!r} has no images")
        return {"features": ctx.store.study(image_ids).astype(np.float32)}

    def layout_row(self, example: dict) -> dict:
        return {"n_visual": self.cfg.prefix_len}

    # --- model --------------------------------------------------------------------------------------
    def input_embeds(self, batch: dict) -> torch.Tensor:
        prefix = self.mapper(batch["features"].to(next(self.mapper.parameters()).dtype))
        return self.embed_layout(batch, prefix)


class FinetuneRecipe(PrefixRecipe):
    mode = "finetune"
    frozen_llm = False

    def freeze(self) -> None:
        self.lm.requires_grad_(True)
        self.mapper.requires_grad_(True)
