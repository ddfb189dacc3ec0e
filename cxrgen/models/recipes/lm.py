"""``--mode lm``: train the language model alone on the report texts (no image).

What it is for: a ``tiny-*`` twin is random-initialised, so unlike GPT-2 or Qwen it knows no
language; a frozen random LM cannot be steered by a prefix. ``cxrgen demo`` therefore first trains
the tiny twin on the training reports with this mode, then freezes it for ``--mode prefix`` (the
stand-in for a pretrained LLM). On a real LLM it is plain domain-adaptive pretraining.

The final checkpoint is also exported in Hugging Face format to ``final/hf/`` (``save_pretrained``
+ tokenizer), so a later run takes it as ``--llm WORKSPACE/train/<run>/final/hf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cxrgen.models.recipes.base import DataContext, Recipe, layout, target_ids

HF_EXPORT = "hf"


class LanguageModelRecipe(Recipe):
    mode = "lm"
    reads = "none"

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm, feature_dim)
        self.freeze()

    def freeze(self) -> None:
        self.lm.requires_grad_(True)

    def _bos(self) -> list[int]:
        tok = self.llm.tokenizer
        return [tok.bos_token_id if tok.bos_token_id is not None else self.llm.eos_id]

    def example(self, record: Any, ctx: DataContext, *, train: bool) -> dict:
        ex = {"id": record.id, "reference": record.report}
        if train:
            ex["target"] = target_ids(ctx.tokenizer, record.report, ctx.max_len)
        return ex

    def collate(self, examples: list[dict], *, train: bool) -> dict:
        rows = [{"pre": self._bos(), "target": e.get("target", []) if train else []} for e in examples]
        batch = layout(rows, self.llm.pad_id, side="right" if train else "left")
        batch["ids"] = [e["id"] for e in examples]
        batch["references"] = [e["reference"] for e in examples]
        return batch

    def forward(self, batch: dict) -> dict:
        out = self.lm(inputs_embeds=self.embed_layout(batch, None), attention_mask=batch["attention_mask"],
                      labels=batch["labels"], use_cache=False)
        return {"loss": out.loss}

    def prepare_generation(self, batch: dict) -> dict:
        return {"inputs_embeds": self.embed_layout(batch, None), "attention_mask": batch["attention_mask"]}

    def export(self, folder: Path) -> list[str]:
        """Write ``folder/hf`` in Hugging Face format; returns the written file names (relative)."""
        out = Path(folder) / HF_EXPORT
        with torch.no_grad():
            self.lm.save_pretrained(out, safe_serialization=True)
        self.llm.tokenizer.save_pretrained(out)
        return [f"{HF_EXPORT}/{p.name}" for p in sorted(out.iterdir()) if p.is_file()]
