"""``--mode lm``: train the language model alone on the report texts (no image).

What it is for: a ``tiny-*`` twin is random-initialised, so unlike GPT-2 or Qwen it knows no
language; a frozen random LM cannot be steered by a prefix. ``cxrgen demo`` therefore first trains
the tiny twin on the training reports with this mode, then freezes it for ``--mode prefix`` (the
stand-in for a pretrained LLM). On a real LLM it is plain domain-adaptive pretraining.

The sequence is ``[context: prefix_len slots][report][EOS]``, the context being the study's
IMPRESSION tokens (truncated or padded to ``prefix_len``), the loss on the report and EOS. A
pretrained LLM has learned from its corpus to write what earlier context implies; a tiny twin trained
on bare reports has not, and then no prefix can steer it. Trained this way, it reads its first
``prefix_len`` positions as the summary of the report, which is exactly where ``--mode prefix`` puts
the mapper's output.

The final checkpoint is also exported in Hugging Face format to ``final/hf/`` (``save_pretrained``
+ tokenizer), so a later run takes it as ``--llm WORKSPACE/train/<run>/final/hf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cxrgen.models.recipes.base import DataContext, Recipe, text_ids

HF_EXPORT = "hf"


class LanguageModelRecipe(Recipe):
    mode = "lm"
    reads = "none"
    frozen_llm = False

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm, feature_dim)
        self.freeze()

    def freeze(self) -> None:
        self.lm.requires_grad_(True)

    def context_ids(self, record: Any) -> list[int]:
        n = self.cfg.prefix_len
        ids = text_ids(self.llm.tokenizer, " ".join((record.impression or "").lower().split()))[:n]
        return ids + [self.llm.eos_id] * (n - len(ids))

    def inputs(self, record: Any, ctx: DataContext) -> dict:
        return {"context": self.context_ids(record)}

    def layout_row(self, example: dict) -> dict:
        return {"pre": example["context"]}

    def input_embeds(self, batch: dict) -> torch.Tensor:
        return self.embed_layout(batch, None)

    def export(self, folder: Path) -> list[str]:
        """Write ``folder/hf`` in Hugging Face format; returns the written file names (relative)."""
        out = Path(folder) / HF_EXPORT
        with torch.no_grad():
            self.lm.save_pretrained(out, safe_serialization=True)
        self.llm.tokenizer.save_pretrained(out)
        return [f"{HF_EXPORT}/{p.name}" for p in sorted(out.iterdir()) if p.is_file()]
