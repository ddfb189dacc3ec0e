"""LLaMA-XR (Jahangir, Kabir, Akter, Jahan & Chau 2025): torchxrayvision pathology scores as text → Llama 3.1 8B
(base, as the paper; ``llama3.1-8b-instruct`` for the Instruct variant) in 4-bit NF4 + double
quantisation, LoRA r 16 on q,k,v,o,gate,up,down (41,943,040 trainable).

The prompt is the Alpaca format of the paper's Figure 4 (Unsloth's ``alpaca_prompt``): a general
instruction, the task instruction, the 36 scores (18 of the frontal view, then 18 of the lateral view,
in the order the instruction names them) as a Python list, and the report as the response, followed
by EOS. The loss covers the response and EOS (``loss_on=response``) or, as the paper's trl SFTTrainer
does, the whole text (``loss_on=all``); at test time the response is left empty.

A study with one view repeats it for the missing one (the paper does not say what it did; R2Gen's
IU loader does the same with images). Without CUDA (``quant=auto``) the LLM loads unquantised, which
is how the CPU tests run the same recipe with ``tiny-llama``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cxrgen.errors import InputError
from cxrgen.models.recipes.base import DataContext, Recipe, text_ids

CONDITIONS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema",
              "Enlarged Cardiomediastinum", "Fibrosis", "Fracture", "Hernia", "Infiltration", "Lung Lesion",
              "Lung Opacity", "Mass", "Nodule", "Pleural Thickening", "Pneumonia", "Pneumothorax")
HEADER = ("Below is an instruction that describes a task, paired with an input that provides further context. "
          "Write a response that appropriately completes the request.")
INSTRUCTION = (
    "Generate a medical report based on the given classification scores from a patient's X-ray, which includes "
    "two views: Frontal and Lateral. The classification scores consist of 18 values for each view, representing "
    "the confidence scores for 18 different medical conditions. For both the Frontal and Lateral views, these "
    "conditions are as follows: Atelectasis, Cardiomegaly, Consolidation, Edema, Effusion, Emphysema, Enlarged "
    "Cardiomediastinum, Fibrosis, Fracture, Hernia, Infiltration, Lung Lesion, Lung Opacity, Mass, Nodule, "
    "Pleural Thickening, Pneumonia, and Pneumothorax. The first 18 values correspond to the Frontal view, while "
    "the remaining 18 values correspond to the Lateral view.")
FRONTAL = {"PA", "AP", "FRONTAL", "AP AXIAL", "PA LLD", "AP LLD", "AP RLD", "PA RLD"}
LATERAL = {"LATERAL", "LL", "RL", "LAT", "LEFT LATERAL", "RIGHT LATERAL"}


def alpaca_prompt(scores: list[float]) -> str:
    """The prompt up to and including ``### Response:\\n`` (the report follows it)."""
    return f"{HEADER}\n\n### Instruction:\n{INSTRUCTION}\n\n### Input:\n{scores!r}\n\n### Response:\n"


def _norm(label: str) -> str:
    return label.replace("_", " ").strip().lower()


def score_order(labels: list[str], where: str) -> list[int]:
    """Column of each of the 18 prompt conditions in the cache's ``score_labels``."""
    index = {_norm(lab): i for i, lab in enumerate(labels)}
    missing = [c for c in CONDITIONS if _norm(c) not in index]
    if missing:
        raise InputError(f"{where}: pathology scores lack {', '.join(missing)} (score_labels {labels}); "
                         "embed with --encoder xrv-densenet121-res224-all")
    return [index[_norm(c)] for c in CONDITIONS]


def pick_views(record: Any) -> tuple[str, str]:
    """Image ids of the frontal and the lateral view. Without a view label the record's image order
    decides; a study whose labels name no lateral (OpenI's DICOM ViewPosition says PA for both images
    of 1,001 studies) gives its next image as the second view; only a single image is repeated."""
    imgs = list(record.images)
    if not imgs:
        raise InputError(f"record {record.id!r} has no images")
    front = next((im for im in imgs if (im.view or "").upper() in FRONTAL), None)
    lat = next((im for im in imgs if (im.view or "").upper() in LATERAL), None)
    if front is None and lat is None:  # no view metadata: the first two images in record order
        front, lat = imgs[0], imgs[1] if len(imgs) > 1 else imgs[0]
    front = front or lat
    lat = lat or next((im for im in imgs if im is not front), front)
    return front.image_id, lat.image_id


class QloraRecipe(Recipe):
    mode = "qlora"
    reads = "scores"
    frozen_llm = True          # base weights frozen (4-bit on CUDA, bf16/fp16 without nf4); LoRA trains
    default_encoder = "xrv-densenet121-res224-all"

    @classmethod
    def load_llm(cls, cfg: Any, *, meta: bool = False, device: Any = None):
        from cxrgen.models.llms import load_llm
        from cxrgen.models.quant import nf4_config, resolve_quant
        if meta:
            return load_llm(cfg.llm, weights=cfg.llm_weights, meta=True)
        from cxrgen.models.runtime import resolve_device
        dev = str(device if device is not None else resolve_device("auto"))
        if resolve_quant(cfg.quant, dev) == "nf4":
            compute = "float16" if cfg.precision == "fp16" else "bfloat16"
            return load_llm(cfg.llm, weights=cfg.llm_weights, device=device or dev,
                            quantization_config=nf4_config(compute))
        return super().load_llm(cfg, device=device)   # bf16 base weights on CUDA, fp32 on CPU

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__(cfg, llm)
        from cxrgen.models.adapters import LLAMA_ALL_LINEAR, add_lora
        model = llm.model
        if getattr(model, "is_loaded_in_4bit", False):
            from cxrgen.models.quant import prepare_kbit
            model = prepare_kbit(model, cfg.grad_checkpointing)
        self.lm = add_lora(model, cfg.lora, LLAMA_ALL_LINEAR, what=f"LLM {cfg.llm!r}", causal_lm=True)
        self.llm.model = self.lm
        self._order: list[int] | None = None
        self.freeze()

    def components(self) -> dict:
        return {"llm+lora": self.lm}

    def freeze(self) -> None:
        for n, p in self.lm.named_parameters():
            p.requires_grad_("lora_" in n)

    def adapter_config(self) -> dict:
        lo = self.cfg.lora
        return {**super().adapter_config(), "quant": self.cfg.quant,
                "lora": {"r": lo.r, "alpha": lo.alpha, "dropout": lo.dropout, "targets": list(lo.targets)}}

    # --- data --------------------------------------------------------------------------------------
    def inputs(self, record: Any, ctx: DataContext) -> dict:
        store = ctx.store
        if store is None or not store.has_scores:
            raise InputError("mode qlora needs pathology scores: run `cxrgen embed --encoder "
                             "xrv-densenet121-res224-all` first")
        if self._order is None:
            self._order = score_order(store.score_labels, str(store.path))
        ids = pick_views(record)
        s = store.scores(list(ids))[:, self._order]          # (2, 18) frontal, lateral
        values = [float(np.float32(v)) for v in s.reshape(-1)]
        bos = ctx.tokenizer.bos_token_id
        return {"pre": ([bos] if bos is not None else []) + text_ids(ctx.tokenizer, alpaca_prompt(values))}

    def layout_row(self, example: dict) -> dict:
        return {"pre": example["pre"]}

    # --- model --------------------------------------------------------------------------------------
    def input_embeds(self, batch: dict) -> torch.Tensor:
        return self.embed_layout(batch, None)
