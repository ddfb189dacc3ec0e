"""R2GenGPT's visual mapper: ``Linear(in_dim → d) + LayerNorm(d)``.

R2GenGPT (Wang et al., Meta-Radiology 2023, §3 "Feature Alignment", Eq. 1) projects every Swin-B
grid token (1024-d) into the LLM's word-embedding space with one linear layer; the released code
follows it with a LayerNorm over the LLM width. For d = 4096 (Llama-2-7B) that is
1024·4096 + 4096 (linear) + 2·4096 (norm) = 4,206,592 parameters — the "4.2M" of the paper's Table 2.
"""

from __future__ import annotations

import torch
from torch import nn


class VisualProjector(nn.Module):
    """Maps ``(B, T, in_dim)`` visual tokens to ``(B, T, d)`` LLM input embeddings."""

    def __init__(self, in_dim: int = 1024, d: int = 4096):
        super().__init__()
        self.in_dim, self.d = in_dim, d
        self.proj = nn.Linear(in_dim, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


def projector_params(in_dim: int, d: int) -> int:
    """The closed-form parameter count (used in docs and cross-checked by the tests)."""
    return in_dim * d + d + 2 * d
