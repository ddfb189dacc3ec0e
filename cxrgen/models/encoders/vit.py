"""timm ViT-B/16 (224) patch features for the dual-encoder recipe: N×197×768 (class token + 196 patches).

The registry's ``arch`` picks the timm architecture: ``vit_base_patch16_224`` (``vit-base``) or the
CLIP image tower ``vit_base_patch16_clip_224`` (``clip-vit-base``, CLIP mean/std, crop 0.95).

Weights: a state-dict file or a folder holding one (the classifier head is dropped), or a timm /
Hugging Face hub name (``timm/vit_base_patch16_224.augreg2_in21k_ft_in1k``) loaded by timm where the
hub is reachable. Preprocessing is timm's eval transform for the model: resize the short side to
size/crop_pct bicubic, centre crop, normalise with the model's mean/std (grey replicated to RGB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from cxrgen.errors import DependencyError
from cxrgen.models.encoders.base import (Encoder, center_crop, load_into, load_state_dict, pil_to_unit,
                                         to_pil8, weight_file_in, weight_kind)
from cxrgen.models.seed import seeded

ARCH = "vit_base_patch16_224"
TINY = dict(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=2, num_classes=0)


class VitPatches(nn.Module):
    def __init__(self, vit):
        super().__init__()
        self.model = vit

    def forward(self, pixels):
        return {"features": self.model.forward_features(pixels)}


@dataclass(frozen=True)
class VitPreprocess:
    size: int = 224
    crop_pct: float = 0.9
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    squash: bool = False   # resize straight to size×size, no crop (the dual-encoder paper's §3.1 preprocessing)

    def __call__(self, img: np.ndarray) -> torch.Tensor:
        from PIL import Image
        im = to_pil8(img)
        if self.squash:
            grey = pil_to_unit(im.resize((self.size, self.size), Image.BICUBIC))
            return torch.from_numpy(np.stack([(grey - m) / s for m, s in zip(self.mean, self.std)]).astype(np.float32))
        short = math.floor(self.size / self.crop_pct)
        w, h = im.size
        nw, nh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        grey = center_crop(pil_to_unit(im.resize((nw, nh), Image.BICUBIC)), self.size)
        x = np.stack([(grey - m) / s for m, s in zip(self.mean, self.std)]).astype(np.float32)
        return torch.from_numpy(x)

    def describe(self) -> dict:
        if self.squash:
            return {"steps": ["8-bit grey", f"resize to {self.size}x{self.size} bicubic (no crop)", "/255",
                              "grey→RGB", "normalize"], "size": self.size, "mean": list(self.mean),
                    "std": list(self.std)}
        return {"steps": ["8-bit grey", f"resize short side {math.floor(self.size / self.crop_pct)} bicubic",
                          f"center crop {self.size}", "/255", "grey→RGB", "normalize"],
                "size": self.size, "crop_pct": self.crop_pct, "mean": list(self.mean), "std": list(self.std)}


def build(name: str, info: dict, weights: str = "", load_weights: bool = True) -> Encoder:
    import timm
    from timm.models.vision_transformer import VisionTransformer
    tiny = bool(info.get("tiny"))
    source = "random-init"
    kind = weight_kind(weights) if weights and load_weights else ""
    if kind == "hub":
        try:
            vit = timm.create_model(weights if weights.startswith("hf-hub:") or "/" not in weights
                                    else f"hf-hub:{weights}", pretrained=True, num_classes=0)
        except Exception as e:
            raise DependencyError(f"--encoder-weights {weights}: timm could not load it ({str(e).splitlines()[0]}); "
                                  "give a local weight file or folder instead") from None
        source = weights
    else:
        with seeded():
            vit = (VisionTransformer(**TINY) if tiny
                   else timm.create_model(info.get("arch", ARCH), pretrained=False, num_classes=0))
        if kind:
            path = weight_file_in(weights) if kind == "dir" else weights
            state = {k: v for k, v in load_state_dict(path).items() if not k.startswith("head.")}
            load_into(vit, state, str(path))
            source = str(path)
    cfg = getattr(vit, "pretrained_cfg", None) or {}
    size = int(vit.patch_embed.img_size[0])
    pre = VitPreprocess(size=size, crop_pct=float(cfg.get("crop_pct", 0.9)),
                        mean=tuple(cfg.get("mean", (0.5, 0.5, 0.5))), std=tuple(cfg.get("std", (0.5, 0.5, 0.5))))
    tokens = vit.patch_embed.num_patches + vit.num_prefix_tokens
    return Encoder(name=name, model=VitPatches(vit).eval(), preprocess=pre, dim=int(vit.embed_dim), tokens=tokens,
                   weights_source=source, info=info)
