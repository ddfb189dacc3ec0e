"""On-the-fly image encoding for recipes that train the encoder (R2GenGPT ``delta``/``deep``, ``dual-vit``).

``load_image_encoder(name)`` returns an ``nn.Module`` with ``.model`` (the backbone, e.g. HF Swin-B),
``.dim`` / ``.tokens`` (grid size), ``forward(pixels (V, 3, H, W)) -> (V, T, D)`` (the grid that
``cxrgen embed`` caches)
and ``load_study(record, root) -> (V, 3, H, W)`` float32 array (the encoder's preprocessing, done in
DataLoader workers). The backbone and its preprocessing come from the encoder registry's builder, so
the grid a ``delta`` run computes is the one ``cxrgen embed --encoder swin-base-grid`` caches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cxrgen.errors import ConfigError, InputError


class ImageEncoder(nn.Module):
    def __init__(self, name: str, model: nn.Module, preprocess: Any, dim: int, tokens: int):
        super().__init__()
        self.name, self.model, self.dim, self.tokens = name, model, dim, tokens
        self._preprocess = preprocess   # HxW float [0,1] array → (3, H', W') float32 array

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        dtype = next(self.model.parameters()).dtype
        return self.model(pixels.to(dtype))["features"]

    def load_study(self, record: Any, root: Path | None) -> np.ndarray:
        from cxrgen.data.images import read_xray
        from cxrgen.utils.io import safe_join
        if root is None:
            raise InputError(f"mode needs images but data set of record {record.id!r} has no image root; "
                             "prepare it with its images (e.g. `cxrgen prepare iu --images DIR`)")
        arrays = []
        for im in record.images:
            path = safe_join(root, im.path)
            arrays.append(np.asarray(self._preprocess(read_xray(path)), dtype=np.float32))
        return np.stack(arrays).astype(np.float32)


SWIN_B_SOURCE = "microsoft/swin-base-patch4-window7-224"   # R2GenGPT's visual encoder (footnote 3)
VIT_B_SOURCE = "timm/vit_base_patch16_224.augreg2_in21k_ft_in1k"   # an ImageNet ViT-B/16 (dual paper §3.1)


def load_image_encoder(name: str, *, weights: str = "", meta: bool = False, squash: bool = False) -> ImageEncoder:
    """Build the trainable grid encoder ``name`` from the encoder registry (Swin or ViT patch encoders).

    Without ``weights`` the real Swin-B starts from R2GenGPT's ImageNet checkpoint and ViT-B from an
    ImageNet timm checkpoint (Hugging Face ids, loaded from the local cache or the hub); the ``tiny-*``
    twins start from their seeded random init. ``squash`` (ViT only): resize to the model's input size
    without cropping, as the dual-encoder paper does.
    """
    from dataclasses import replace

    from cxrgen.models.catalog import ENCODERS
    entry = ENCODERS.get(name)
    kind = "swin" if "swin" in name else "vit" if name in ("vit-base", "tiny-vit") else ""
    if not kind:
        raise ConfigError(f"encoder {name!r} cannot be trained on the fly; use a Swin grid encoder (R2GenGPT "
                          "delta/deep: swin-base-grid) or a ViT (dual-vit: vit-base), or tiny-swin-grid / tiny-vit")
    if not weights and not entry.info.get("tiny"):
        weights = SWIN_B_SOURCE if kind == "swin" else VIT_B_SOURCE
    enc = entry.load()(name, entry.info, weights=weights, load_weights=not meta)
    pre = replace(enc.preprocess, squash=True) if squash and kind == "vit" else enc.preprocess
    return ImageEncoder(name, enc.model, pre, int(enc.dim), int(enc.tokens))
