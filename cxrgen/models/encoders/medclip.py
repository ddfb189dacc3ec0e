"""MedCLIP's vision encoder (MedCLIP-ViT): Swin-Tiny → pooled 768 → Linear 768→512 (no bias) → L2-normalised.

Weights: the released MedCLIP-ViT ``pytorch_model.bin`` (vision-text model; keys
``vision_model.model.*`` for the Hugging Face Swin backbone and ``vision_model.projection_head.weight``)
or a state dict of this module; text-side keys are ignored, old Swin key names are renamed for
transformers 5. The ``medclip`` package is not needed (it pins an old transformers).

Preprocessing (MedCLIP's feature extractor, on the 8-bit grey image): pad to a square of side
max(224, H, W) with black, image centred; resize to 224 bicubic; centre crop 224; /255; normalise with
mean 0.5862785803043838, std 0.27950088968644304; the single channel is repeated to 3 in the model.

``tiny-medclip-vit`` uses the same classes with a one-stage Swin and random
weights from a fixed seed (one stage, patch 32, 7×7×48 grid); instead of the mean pool it flattens the grid before the projection so
that random features keep where things are in the image (the demo's mapper must see findings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cxrgen.models.encoders.base import (Encoder, load_into, load_state_dict, local_weight_file, pil_to_unit,
                                         to_pil8)
from cxrgen.models.seed import seeded
from cxrgen.models.encoders.swin import convert_old_swin_keys

MEAN = 0.5862785803043838
STD = 0.27950088968644304
SWIN_T = dict(image_size=224, patch_size=4, num_channels=3, embed_dim=96, depths=[2, 2, 6, 2],
              num_heads=[3, 6, 12, 24], window_size=7)      # microsoft/swin-tiny-patch4-window7-224
TINY = dict(image_size=224, patch_size=32, num_channels=3, embed_dim=48, depths=[1],
            num_heads=[2], window_size=7)   # one stage on a 7×7 grid: best linear probe of synthetic findings


class MedClipVision(nn.Module):
    """Attribute names mirror MedCLIP's ``MedClipVisionModelViT`` (``model``, ``projection_head``)."""

    def __init__(self, config, proj_dim: int = 512, grid: bool = False):
        super().__init__()
        from transformers import SwinModel
        self.grid = grid
        self.model = SwinModel(config)
        side = config.image_size // config.patch_size // 2 ** (len(config.depths) - 1)
        in_dim = config.hidden_size * (side * side if grid else 1)
        self.projection_head = nn.Linear(in_dim, proj_dim, bias=False)

    def forward(self, pixels):
        if pixels.shape[1] == 1:
            pixels = pixels.repeat(1, 3, 1, 1)
        out = self.model(pixel_values=pixels)
        h = out.last_hidden_state.flatten(1) if self.grid else out.pooler_output
        return {"features": F.normalize(self.projection_head(h), dim=-1)}


def medclip_state(state: dict) -> dict:
    """MedCLIP checkpoint (or a state dict of MedClipVision) → MedClipVision keys."""
    if any(k.startswith("vision_model.") for k in state):
        state = {k[len("vision_model."):]: v for k, v in state.items() if k.startswith("vision_model.")}
    return convert_old_swin_keys(state)


@dataclass(frozen=True)
class MedClipPreprocess:
    size: int = 224
    mean: float = MEAN
    std: float = STD

    def __call__(self, img: np.ndarray) -> torch.Tensor:
        from PIL import Image
        im = to_pil8(img)
        w, h = im.size
        side = max(self.size, w, h)
        square = Image.new("L", (side, side), 0)
        square.paste(im, ((side - w) // 2, (side - h) // 2))
        if side != self.size:
            square = square.resize((self.size, self.size), Image.BICUBIC)
        x = (pil_to_unit(square) - self.mean) / self.std   # centre crop of a size×size image is itself
        return torch.from_numpy(x[None].astype(np.float32))

    def describe(self) -> dict:
        return {"steps": ["8-bit grey", f"pad to square max({self.size},H,W) black, centred",
                          f"resize {self.size} bicubic", f"center crop {self.size}", "/255", "normalize"],
                "size": self.size, "mean": self.mean, "std": self.std}


def build(name: str, info: dict, weights: str = "", load_weights: bool = True) -> Encoder:
    from transformers import SwinConfig
    tiny = bool(info.get("tiny"))
    config = SwinConfig(**(TINY if tiny else SWIN_T))
    with seeded():
        model = MedClipVision(config, proj_dim=int(info.get("dim", 512)), grid=tiny)
    source = "random-init"
    if weights and load_weights:
        path = local_weight_file(weights, "MedCLIP weights are a file (MedCLIP-ViT pytorch_model.bin) "
                                          "or a folder holding it; there is no hub id")
        load_into(model, medclip_state(load_state_dict(path)), str(path))
        source = str(path)
    return Encoder(name=name, model=model.eval(), preprocess=MedClipPreprocess(config.image_size),
                   dim=model.projection_head.out_features, tokens=0, weights_source=source, info=info)
