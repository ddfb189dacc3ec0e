"""R2GenGPT's image encoder: Hugging Face Swin-B (patch4, window7, 224), last hidden state 49×1024.

Reused by the R2GenGPT recipes for on-the-fly encoding (delta/deep modes)::

    from cxrgen.models.encoders.swin import build_swin_base, preprocess_swin
    swin = build_swin_base(config_only=True)                 # architecture, random init, no download
    swin = build_swin_base(weights="microsoft/swin-base-patch4-window7-224")   # HF id, local dir or file
    x = preprocess_swin(read_xray(path))                     # 3×224×224 float tensor

Module names are the transformers-5 ones (``attention.q_proj``/``k_proj``/``v_proj``/``o_proj``,
``mlp.fc1``/``fc2``), so LoRA targets ``q_proj``,``v_proj`` (770,048 parameters at r=16 on Swin-B).
Checkpoints in the older layout (``attention.self.query`` …) are renamed by :func:`convert_old_swin_keys`.

Preprocessing follows R2GenGPT (the swin-base image processor on the 8-bit image): resize to 224×224
bicubic (aspect not kept), scale to [0, 1], grey replicated to RGB, ImageNet mean/std.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch.nn as nn

from cxrgen.models.encoders.base import (Encoder, load_into, load_state_dict, pil_to_unit, to_pil8,
                                         weight_kind)
from cxrgen.models.seed import seeded

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SWIN_BASE = dict(image_size=224, patch_size=4, num_channels=3, embed_dim=128, depths=[2, 2, 18, 2],
                 num_heads=[4, 8, 16, 32], window_size=7)
SWIN_TINY_GRID = dict(image_size=224, patch_size=16, num_channels=3, embed_dim=32, depths=[1, 1],
                      num_heads=[2, 4], window_size=7)
LORA_TARGETS = ("q_proj", "v_proj")

# old (transformers ≤4) → new (transformers 5) Swin parameter names; order matters (attention.output first)
_RENAMES = (
    (re.compile(r"\.attention\.self\.query\."), ".attention.q_proj."),
    (re.compile(r"\.attention\.self\.key\."), ".attention.k_proj."),
    (re.compile(r"\.attention\.self\.value\."), ".attention.v_proj."),
    (re.compile(r"\.attention\.self\.relative_position_bias_table$"),
     ".attention.relative_position_bias.relative_position_bias_table"),
    (re.compile(r"\.attention\.output\.dense\."), ".attention.o_proj."),
    (re.compile(r"(\.blocks\.\d+)\.intermediate\.dense\."), r"\1.mlp.fc1."),
    (re.compile(r"(\.blocks\.\d+)\.output\.dense\."), r"\1.mlp.fc2."),
)
_DROPPED = re.compile(r"relative_position_index$")  # a buffer recomputed from the window size


def convert_old_swin_keys(state: dict) -> dict:
    """Rename a Swin state dict from the transformers-4 layout to the transformers-5 one (idempotent)."""
    out = {}
    for k, v in state.items():
        if _DROPPED.search(k):
            continue
        for pat, rep in _RENAMES:
            k = pat.sub(rep, k)
        out[k] = v
    return out


def swin_config(tiny: bool = False, **overrides):
    from transformers import SwinConfig
    return SwinConfig(**{**(SWIN_TINY_GRID if tiny else SWIN_BASE), **overrides})


def build_swin_base(weights: str | None = None, config_only: bool = False, tiny: bool = False):
    """A ``transformers.SwinModel`` (Swin-B or the tiny twin): random init, or weights from an HF id,
    a local folder (``from_pretrained``) or a state-dict file (old or new key names)."""
    from transformers import SwinModel
    if config_only or not weights:
        with seeded():
            model = SwinModel(swin_config(tiny), add_pooling_layer=False)
        return model.eval()
    kind = weight_kind(weights)
    if kind == "file":
        with seeded():
            model = SwinModel(swin_config(tiny), add_pooling_layer=False)
        state = convert_old_swin_keys(load_state_dict(weights))
        state = {k[len("swin."):] if k.startswith("swin.") else k: v for k, v in state.items()}
        load_into(model, state, weights, ignore=("pooler.",))
        return model.eval()
    from cxrgen.errors import DependencyError
    try:
        return SwinModel.from_pretrained(weights, add_pooling_layer=False).eval()
    except OSError as e:
        raise DependencyError(f"--encoder-weights {weights}: cannot load a Swin model ({str(e).splitlines()[0]}); "
                              "give a local folder or file, or download it where the hub is reachable") from None


@dataclass(frozen=True)
class SwinPreprocess:
    size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    def __call__(self, img: np.ndarray):
        import torch
        from PIL import Image
        im = to_pil8(img).resize((self.size, self.size), Image.BICUBIC)
        grey = pil_to_unit(im)
        x = np.stack([(grey - m) / s for m, s in zip(self.mean, self.std)]).astype(np.float32)
        return torch.from_numpy(x)

    def describe(self) -> dict:
        return {"steps": ["8-bit grey", f"resize {self.size}x{self.size} bicubic", "/255", "grey→RGB",
                          "normalize"], "size": self.size, "mean": list(self.mean), "std": list(self.std)}


def preprocess_swin(img: np.ndarray, size: int = 224):
    """One image ([0, 1] H×W) → 3×size×size tensor, R2GenGPT's preprocessing."""
    return SwinPreprocess(size)(img)



class SwinGrid(nn.Module):
    """forward(pixels) → {"features": last hidden state B×T×D}."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return {"features": self.model(pixel_values=pixels).last_hidden_state}


def build(name: str, info: dict, weights: str = "", load_weights: bool = True) -> Encoder:
    tiny = bool(info.get("tiny"))
    w = weights or info.get("weights", "")
    swin = build_swin_base(weights=w if load_weights else None, tiny=tiny)
    cfg = swin.config
    tokens = (cfg.image_size // cfg.patch_size // 2 ** (len(cfg.depths) - 1)) ** 2
    return Encoder(name=name, model=SwinGrid(swin), preprocess=SwinPreprocess(cfg.image_size),
                   dim=int(cfg.hidden_size), tokens=tokens,
                   weights_source=(w if (w and load_weights) else "random-init"), info=info)
