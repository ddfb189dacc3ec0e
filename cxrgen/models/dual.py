"""The dual content/topic encoder of Nguyen, Omer & Choo, "Vision-Language Model for Medical Report
Generation" (KIPS 2025; /work/shared/papers/dual-encoder-contrastive.txt).

What the paper states (§2, §3.1) and how it is realised here:

* a ViT visual encoder gives a sequence of image tokens (cached ``vit-base`` patch features);
* a **content encoder** "refines the visual tokens into semantically meaningful representations" of
  fine-grained findings → a stack of pre-LN transformer encoder layers over the visual tokens;
* a **topic encoder**, in parallel, "integrates LLaMA embeddings derived from section-level or
  topic-level tokens (e.g. 'Findings', 'Impression')" → one query per topic word, initialised from
  the frozen LLM's input embedding of that word (mean over its sub-tokens) through a trainable
  Linear(d_llm → width), cross-attending to the visual tokens (pre-LN transformer decoder layers);
* a **LLaMA projection layer** maps both outputs to the LLM's embedding space; the content tokens
  followed by the topic tokens are the visual prefix of the prompt;
* a **contrastive** objective aligns the image-derived representation with the paired report "encoded
  using the frozen LLaMA": symmetric InfoNCE over the batch between the mean-pooled projected tokens
  and the mean of the frozen LLM's last hidden states over the report tokens (``dual.target=hidden``;
  ``embeddings``: the mean of the report's input token embeddings), temperature 0.07;
* loss = 0.5·LM + 0.5·InfoNCE (§3.1 "weights of 0.5 and 0.5"); content encoder, topic encoder and
  projection are trained from scratch, the LLM is frozen.

Layer counts and widths are not given in the paper; the defaults (2 + 2 layers, 8 heads, width =
visual feature size) are this implementation's choice and live in ``DualConfig``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DualEncoder(nn.Module):
    def __init__(self, in_dim: int, d_llm: int, topic_embeds: torch.Tensor, *, content_layers: int = 2,
                 topic_layers: int = 2, heads: int = 8, dropout: float = 0.1):
        super().__init__()
        if in_dim % heads:
            raise ValueError(f"visual feature size {in_dim} is not divisible by dual.heads={heads}")
        self.in_dim, self.d_llm = in_dim, d_llm
        enc = nn.TransformerEncoderLayer(in_dim, heads, 4 * in_dim, dropout, activation="gelu",
                                         batch_first=True, norm_first=True)
        self.content = nn.TransformerEncoder(enc, content_layers, enable_nested_tensor=False)
        self.topic_in = nn.Linear(d_llm, in_dim)
        dec = nn.TransformerDecoderLayer(in_dim, heads, 4 * in_dim, dropout, activation="gelu",
                                         batch_first=True, norm_first=True)
        self.topic = nn.TransformerDecoder(dec, topic_layers)
        self.norm = nn.LayerNorm(in_dim)
        self.proj = nn.Linear(in_dim, d_llm)
        # rebuilt from the frozen LLM at every build: not saved in checkpoints
        self.register_buffer("topic_embeds", topic_embeds.detach().clone(), persistent=False)

    @property
    def n_topics(self) -> int:
        return self.topic_embeds.shape[0]

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, T, in_dim)`` visual tokens → ``(B, T + K, d_llm)`` prefix embeddings (K topics)."""
        content = self.content(feats)
        q = self.topic_in(self.topic_embeds.to(feats.dtype)).unsqueeze(0).expand(feats.shape[0], -1, -1)
        topics = self.topic(q, feats)
        return self.proj(self.norm(torch.cat([content, topics], dim=1)))


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between row-paired ``a`` and ``b`` (B × D); matched pairs are the diagonal."""
    a = F.normalize(a.float(), dim=-1)
    b = F.normalize(b.float(), dim=-1)
    logits = a @ b.t() / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (B × L × D) over positions where ``mask`` (B × L) is true."""
    m = mask.to(x.dtype).unsqueeze(-1)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
