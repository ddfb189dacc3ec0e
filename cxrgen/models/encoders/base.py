"""What every encoder module provides, and the weight-loading helpers they share.

An :class:`Encoder` bundles the ``torch.nn.Module`` (``forward(pixels) -> {"features": …, "scores": …}``),
the picklable preprocessing transform (H×W float image in [0, 1] → C×S×S tensor, run in DataLoader
workers), the output shape and where the weights came from. Checkpoints are read with safetensors or
``torch.load(weights_only=True)`` only; a pickled whole-module file is refused with the conversion
command.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cxrgen.errors import CheckpointError, ConfigError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pt", "model.pth")


@dataclass
class Encoder:
    name: str
    model: Any                       # torch.nn.Module, eval mode
    preprocess: Callable[[np.ndarray], Any]
    dim: int
    tokens: int = 0                  # 0: pooled N×D output, else N×T×D grid
    score_labels: tuple[str, ...] = ()
    weights_source: str = "random-init"
    info: dict = field(default_factory=dict)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.tokens, self.dim) if self.tokens else (self.dim,)

    def param_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def weights_sha256(self) -> str:
        """sha256 of the loaded parameters and buffers (names + raw bytes), independent of the file format."""
        import torch
        h = hashlib.sha256()
        for name, t in sorted(self.model.state_dict().items()):
            t = t.detach().cpu().contiguous().reshape(-1)
            h.update(f"{name}:{t.dtype}:".encode())
            h.update((t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes())
        return h.hexdigest()

    def describe(self) -> dict:
        return {"encoder": self.name, "weights": self.weights_source, "output_shape": list(self.output_shape),
                "params": self.param_count(), "preprocessing": self.preprocess.describe(),  # type: ignore[attr-defined]
                "score_labels": list(self.score_labels)}


def weight_kind(weights: str) -> str:
    """'file', 'dir' or 'hub' (a Hugging Face / timm id) for a --encoder-weights value."""
    p = Path(weights).expanduser()
    if p.is_file():
        return "file"
    if p.is_dir():
        return "dir"
    if weights.startswith((".", "/", "~")) or p.suffix in (".bin", ".pt", ".pth", ".safetensors", ".ckpt"):
        raise ConfigError(f"--encoder-weights {weights}: no such file or directory")
    return "hub"


def weight_file_in(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin")) or sorted(folder.glob("*.pt*"))
    if found:
        return found[0]
    raise ConfigError(f"--encoder-weights {folder}: no weight file ({', '.join(WEIGHT_FILES)}) in this folder")


def local_weight_file(weights: str, hint: str) -> Path:
    """The weight file a --encoder-weights value names (a file, or a folder holding one); a hub id is an error
    ending with ``hint`` (what the file should be)."""
    kind = weight_kind(weights)
    if kind == "hub":
        raise CheckpointError(f"--encoder-weights {weights}: {hint}")
    return weight_file_in(weights) if kind == "dir" else Path(weights)


def load_state_dict(path: str | os.PathLike) -> dict:
    """A flat name → tensor dict from .safetensors or a torch file read with weights_only=True."""
    import torch
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(path), device="cpu")
        except Exception as e:
            raise CheckpointError(f"{path}: unreadable safetensors file ({e})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: cannot be loaded safely (weights_only=True: {first}); if it is a pickled whole model "
            "from a source you trust, convert it once with `python -m cxrgen.models.encoders.convert "
            f"{path} OUT.safetensors` and pass OUT.safetensors") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def load_into(model, state: dict, source: str, *, ignore: tuple[str, ...] = ()) -> None:
    """Strict load that names the first missing/unexpected/mis-shaped keys in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state and not any(k.startswith(i) or i in k for i in ignore)]
    unexpected = [k for k in state if k not in own and not any(k.startswith(i) or i in k for i in ignore)]
    shapes = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"shape mismatch: {', '.join(shapes[:3])}")
        raise CheckpointError(f"{source}: weights do not match the architecture: {'; '.join(parts)}")
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


# --- shared preprocessing pieces ----------------------------------------------------------------
def to_pil8(img: np.ndarray):
    """[0, 1] float → 8-bit grey PIL image (the reference pipelines work on 8-bit PIL images)."""
    from PIL import Image
    return Image.fromarray(np.round(np.clip(img, 0, 1) * 255.0).astype(np.uint8), mode="L")


def pil_to_unit(im) -> np.ndarray:
    return np.asarray(im, dtype=np.float32) / 255.0


def center_crop(a: np.ndarray, size: int) -> np.ndarray:
    """torchvision/HF center crop (top = round((h - size) / 2)); pads with 0 if smaller."""
    h, w = a.shape[-2:]
    if h < size or w < size:
        ph, pw = max(size - h, 0), max(size - w, 0)
        a = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)])
        h, w = a.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return a[..., top:top + size, left:left + size]
