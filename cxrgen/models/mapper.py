"""ClipCap mapping networks: one image embedding → ``prefix_len`` vectors in the LLM's embedding space.

TransformerMapper (ClipCap, Mokady et al. 2021, the resource-efficient MRG paper's mapper)::

    x (B, 512) ─Linear(512, clip_len·d)→ (B, clip_len, d) ┐
    learned prefix constants (prefix_len, d) ─────────────┴→ concat → 8 × pre-LN block → last prefix_len

Each block: x + MHA(LN(x)), then x + MLP(LN(x)); MHA has bias-free query and key/value projections
and a biased output projection; MLP is d → mlp_ratio·d → d with ReLU. No final norm, no dropout.
With d=768 and prefix_len=clip_len=10 this has exactly 41,745,408 parameters (72,437,760 at d=1024).

MlpMapper (ClipCap's MLP option): Linear(in, d·prefix_len/2) → Tanh → Linear(·, d·prefix_len).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        if d % heads:
            raise ValueError(f"mapper width {d} is not divisible by {heads} heads")
        self.heads = heads
        self.q = nn.Linear(d, d, bias=False)
        self.kv = nn.Linear(d, 2 * d, bias=False)
        self.out = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(x).view(b, n, 2, h, d // h).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, mlp_ratio: float):
        super().__init__()
        hidden = int(d * mlp_ratio)
        self.norm1 = nn.LayerNorm(d)
        self.attn = _Attention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(F.relu(self.fc1(self.norm2(x))))


class TransformerMapper(nn.Module):
    def __init__(self, in_dim: int, d: int, prefix_len: int = 10, clip_len: int = 10, layers: int = 8,
                 heads: int = 8, mlp_ratio: float = 2.0):
        super().__init__()
        self.d, self.prefix_len, self.clip_len = d, prefix_len, clip_len
        self.linear = nn.Linear(in_dim, clip_len * d)
        self.prefix_const = nn.Parameter(torch.randn(prefix_len, d))
        self.blocks = nn.ModuleList(_Block(d, heads, mlp_ratio) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_dim) → (B, prefix_len, d)."""
        b = x.shape[0]
        h = self.linear(x).view(b, self.clip_len, self.d)
        h = torch.cat([h, self.prefix_const.unsqueeze(0).expand(b, -1, -1).to(h.dtype)], dim=1)
        for blk in self.blocks:
            h = blk(h)
        return h[:, self.clip_len:]


class MlpMapper(nn.Module):
    def __init__(self, in_dim: int, d: int, prefix_len: int = 10):
        super().__init__()
        self.d, self.prefix_len = d, prefix_len
        hidden = d * prefix_len // 2
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, d * prefix_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.tanh(self.fc1(x))).view(x.shape[0], self.prefix_len, self.d)


def build_mapper(kind: str, *, in_dim: int, d: int, prefix_len: int, clip_len: int, layers: int = 8,
                 heads: int = 8, mlp_ratio: float = 2.0) -> nn.Module:
    if kind == "transformer":
        return TransformerMapper(in_dim, d, prefix_len, clip_len, layers, heads, mlp_ratio)
    if kind == "mlp":
        return MlpMapper(in_dim, d, prefix_len)
    raise ValueError(f"unknown mapper kind {kind!r}")
