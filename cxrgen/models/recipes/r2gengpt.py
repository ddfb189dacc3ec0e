"""R2GenGPT (Wang et al., Meta-Radiology 2023): Swin-B grid → Linear + LayerNorm → frozen Llama-2.

Sequence (§3 "Large Language Models"; released code ``prompt_wrap``)::

    <s> Human: <Img> [49 visual tokens] </Img> Generate a comprehensive and detailed diagnosis report
    for this chest xray image. \\nAssistant: [report] </s>

The loss covers the report tokens and EOS only (Eq. 2). A study's views are averaged over their
Swin grids before the projector (the released ``encode_img`` stacks the views and takes the mean).

* ``shallow``: Swin frozen, reads the cached ``swin-base-grid`` features; trains the projector
  (4,206,592 parameters at d = 4096).
* ``delta``: reads images and runs Swin-B on the fly with LoRA r 16 / alpha 16 / dropout 0.1 on the
  attention query and value projections (+770,048 → 4,976,640).
* ``deep``: reads images; the whole Swin-B trains with the projector (90,949,816 parameters).

Decoding as released (scripts/*.sh): beam 3, repetition penalty 2.0, length penalty 2.0; min/max new
tokens 40/100 and report max_length 60 on IU X-ray, 80/120 and 100 on MIMIC-CXR — kept in one place,
the settings files ``cxrgen/presets/generate/r2gengpt-{iu,mimic}.yaml``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from cxrgen.errors import InputError
from cxrgen.models.projector import VisualProjector
from cxrgen.models.recipes.base import DataContext, Recipe, on_meta, registry_dim, text_ids

INSTRUCTION = "Generate a comprehensive and detailed diagnosis report for this chest xray image."
BEFORE = "Human: <Img>"
AFTER = f"</Img> {INSTRUCTION} \nAssistant:"


def prompt_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Token ids before and after the visual tokens (BOS first when the tokenizer has one)."""
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    return bos + text_ids(tokenizer, BEFORE), text_ids(tokenizer, AFTER)


class _R2GenGPT(Recipe):
    vision: ClassVar[str] = "frozen"   # frozen (cached features) | lora | full
    frozen_llm = True
    default_encoder = "swin-base-grid"

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm)
        self.encoder = None
        if self.reads == "images":
            from cxrgen.models.image_encoder import load_image_encoder
            self.encoder = load_image_encoder(self.vision_name(cfg), weights=cfg.encoder_weights,
                                              meta=on_meta())
            in_dim = self.encoder.dim
            if self.vision == "lora":
                from cxrgen.models.adapters import SWIN_QV, add_lora
                self.encoder.model = add_lora(self.encoder.model, cfg.lora, SWIN_QV, what="Swin encoder")
        else:
            in_dim = feature_dim or registry_dim(self.vision_name(cfg))
        self.projector = VisualProjector(in_dim, llm.hidden_size)
        self._prompt: tuple[list[int], list[int]] | None = None
        self.freeze()

    @classmethod
    def vision_name(cls, cfg: Any) -> str:
        return cfg.encoder or cls.default_encoder

    def components(self) -> dict:
        parts = {"projector": self.projector, "llm": self.lm}
        if self.encoder is not None:
            parts = {"visual_encoder": self.encoder.model, **parts}
        return parts

    def freeze(self) -> None:
        self.lm.requires_grad_(False)
        self.projector.requires_grad_(True)
        if self.encoder is not None:
            m = self.encoder.model
            if self.vision == "full":
                m.requires_grad_(True)
            elif self.vision == "lora":
                for n, p in m.named_parameters():
                    p.requires_grad_("lora_" in n)
            else:
                m.requires_grad_(False)

    def adapter_config(self) -> dict:
        out = {**super().adapter_config(), "projector": {"in_dim": self.projector.in_dim, "d": self.projector.d},
               "vision": self.vision, "encoder": self.vision_name(self.cfg)}
        if self.vision == "lora":
            lo = self.cfg.lora
            out["lora"] = {"r": lo.r, "alpha": lo.alpha, "dropout": lo.dropout, "targets": list(lo.targets)}
        return out

    # --- data --------------------------------------------------------------------------------------
    def prompt(self, tokenizer: Any) -> tuple[list[int], list[int]]:
        if self._prompt is None:
            self._prompt = prompt_ids(tokenizer)
        return self._prompt

    def inputs(self, record: Any, ctx: DataContext) -> dict:
        if not record.images:
            raise InputError(f"record {record.id!r} has no images")
        ex: dict = {}
        if self.reads == "images":
            ex["pixels"] = self.encoder.load_study(record, ctx.image_root)      # (V, C, H, W)
        else:
            if ctx.store is None:
                raise InputError(f"mode {self.mode} needs the {self.vision_name(self.cfg)} feature cache "
                                 f"(run `cxrgen embed --encoder {self.vision_name(self.cfg)}` first)")
            if not ctx.store.tokens:
                raise InputError(f"{ctx.store.path}: pooled features {ctx.store.shape}; mode {self.mode} needs "
                                 "grid features (N×T×D), e.g. --encoder swin-base-grid")
            ex["features"] = ctx.store.study([im.image_id for im in record.images]).astype(np.float32)
        ex["pre"], ex["post"] = self.prompt(ctx.tokenizer)
        return ex

    def layout_row(self, example: dict) -> dict:
        n_vis = self.encoder.tokens if self.encoder is not None else example["features"].shape[0]
        return {"pre": example["pre"], "post": example["post"], "n_visual": n_vis}

    def collate_inputs(self, examples: list[dict]) -> dict:
        if self.encoder is None:
            return super().collate_inputs(examples)
        return {"pixels": [torch.from_numpy(np.asarray(e["pixels"])) for e in examples]}

    # --- model --------------------------------------------------------------------------------------
    def visual_tokens(self, batch: dict) -> torch.Tensor:
        dtype = self.projector.proj.weight.dtype
        if self.encoder is not None:
            grids = [self.encoder(px.to(self.projector.proj.weight.device)).mean(0) for px in batch["pixels"]]
            feats = torch.stack(grids)
        else:
            feats = batch["features"]
        return self.projector(feats.to(dtype))

    def input_embeds(self, batch: dict) -> torch.Tensor:
        return self.embed_layout(batch, self.visual_tokens(batch))


class ShallowRecipe(_R2GenGPT):
    mode = "shallow"
    reads = "features"
    vision = "frozen"


class DeltaRecipe(_R2GenGPT):
    mode = "delta"
    reads = "images"
    vision = "lora"


class DeepRecipe(_R2GenGPT):
    mode = "deep"
    reads = "images"
    vision = "full"
