"""The Recipe interface: what every training mode (`cxrgen train --mode M`) implements.

A recipe is an ``nn.Module`` holding the LLM (``self.lm``, a transformers causal LM) and its own
trainable parts (mapper, projector, LoRA, encoders …). The shared trainer (``cxrgen.stages.train``)
and generator (``cxrgen.stages.generate``) only talk to this interface:

=========================================  ==================================================================
``Recipe.create(cfg, meta=, device=,``     classmethod: load the LLM (``load_llm`` hook) and call
``dtype=, feature_dim=)``                  ``cls(cfg, llm, feature_dim=)``. ``meta=True``: meta device
                                           (dry-run). Subclass ``__init__`` builds its parts, then
                                           calls ``self.freeze()``.
``Recipe.load_llm(cfg, ...)``              classmethod hook: ``cxrgen.models.llms.load_llm`` by default;
                                           override to pass a 4-bit ``quantization_config`` (qlora).
``Recipe.reads``                           what a sample needs: ``"features"`` (features.h5 rows),
                                           ``"scores"`` (features.h5 ``/scores``), ``"images"`` (raw
                                           files under the prepare root), ``"none"`` (text only).
``Recipe.encoder_name(cfg)``               classmethod: the embed artifact read (cfg.encoder, else the
                                           MODES entry's ``encoder``); ``None`` when ``reads`` is images/none.
``components() -> {name: nn.Module}``      parts to count in ``--dry-run`` (e.g. mapper, llm).
``freeze()``                               set ``requires_grad`` (called at the end of ``__init__``);
                                           the trainer optimises exactly the parameters requiring grad.
``adapter_config() -> dict``               JSON written beside every checkpoint (mode, llm, shapes).
``example(record, ctx, train=) -> dict``   one sample (numpy arrays / python lists), built in the
                                           DataLoader; ``ctx`` is a :class:`DataContext`.
``collate(examples, train=) -> dict``      a batch of tensors. Training batches are right-padded,
                                           generation batches left-padded; ``ids`` (record ids) and
                                           ``references`` (report texts) are kept as lists.
``forward(batch) -> dict``                 ``{"loss": scalar, **extra scalar terms for metrics}``.
``prepare_generation(batch) -> dict``      ``{"inputs_embeds": (B,T,d), "attention_mask": (B,T)}``,
                                           left-padded, fed to ``self.lm.generate``.
``trainable_state_dict()`` /               tensors saved to ``trainable.safetensors`` (parameters that
``load_trainable_state_dict(sd)``          require grad + ``extra_state_names()``), loaded strictly.
=========================================  ==================================================================

Helpers for recipes: :func:`target_ids` (report → ids + EOS, truncated), :func:`text_ids`, and
:func:`layout` / :func:`Recipe.embed_layout` which build the common ``[pre text][visual tokens]
[post text][target]`` sequence with a label mask covering the target (report + EOS), or with
``loss_on=all`` the prompt text too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from cxrgen.errors import CheckpointError, ConfigError

IGNORE = -100


@dataclass
class DataContext:
    """What ``Recipe.example`` may read: the feature cache, the image root, the tokenizer, limits."""
    tokenizer: Any
    max_len: int
    store: Any = None              # cxrgen.data.features.FeatureStore or None
    image_root: Path | None = None  # prepare root for recipes that read images
    extra: dict = field(default_factory=dict)


def text_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens."""
    if not text:
        return []
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def target_ids(tokenizer: Any, text: str, max_len: int) -> list[int]:
    """Report tokens truncated to ``max_len - 1``, then EOS (always kept, so generation stops by itself)."""
    ids = text_ids(tokenizer, text)[: max(0, max_len - 1)]
    return ids + [tokenizer.eos_token_id]


def layout(rows: list[dict], pad_id: int, *, side: str, loss_on: str = "response") -> dict[str, torch.Tensor]:
    """Lay out ``[pre][visual × n_visual][post][target]`` per row and pad to the longest row.

    Each row: ``pre``, ``post``, ``target`` (lists of ids, may be empty) and ``n_visual`` (int).
    Returns ``seq_ids`` (pad/visual positions hold ``pad_id``), ``visual_pos`` (bool), ``target_pos``
    (bool, the report + EOS), ``attention_mask`` and ``labels``. ``loss_on="response"``: labels are
    ``IGNORE`` except at target positions; ``"all"``: the prompt text (``pre``, ``post``) is labelled
    too, as a plain SFT trainer without a completion-only collator does (LLaMA-XR §3.5, trl
    SFTTrainer); visual and padding positions are never labelled. ``side``: "right" (training) or
    "left" (generation, so every row ends with its last real token).
    """
    if loss_on not in ("response", "all"):
        raise ConfigError(f"loss_on={loss_on!r}: use response (report + EOS only) or all (prompt text too)")
    seqs, vis, tgts, labs = [], [], [], []
    for r in rows:
        pre, post, tgt, nv = list(r.get("pre", [])), list(r.get("post", [])), list(r.get("target", [])), int(r.get("n_visual", 0))
        ids = pre + [pad_id] * nv + post + tgt
        seqs.append(ids)
        vis.append([False] * len(pre) + [True] * nv + [False] * (len(post) + len(tgt)))
        tgts.append([False] * (len(pre) + nv + len(post)) + [True] * len(tgt))
        if loss_on == "all" and tgt:   # generation rows (no target) stay unlabelled
            labs.append(pre + [IGNORE] * nv + post + tgt)
        else:
            labs.append([IGNORE] * (len(pre) + nv + len(post)) + tgt)
    n = max(len(s) for s in seqs)
    b = len(seqs)
    seq_ids = torch.full((b, n), pad_id, dtype=torch.long)
    visual = torch.zeros((b, n), dtype=torch.bool)
    target = torch.zeros((b, n), dtype=torch.bool)
    mask = torch.zeros((b, n), dtype=torch.long)
    labels = torch.full((b, n), IGNORE, dtype=torch.long)
    for i, (s, v, t, l) in enumerate(zip(seqs, vis, tgts, labs)):
        k = len(s)
        sl = slice(n - k, n) if side == "left" else slice(0, k)
        seq_ids[i, sl] = torch.tensor(s, dtype=torch.long)
        visual[i, sl] = torch.tensor(v, dtype=torch.bool)
        target[i, sl] = torch.tensor(t, dtype=torch.bool)
        mask[i, sl] = 1
        labels[i, sl] = torch.tensor(l, dtype=torch.long)
    return {"seq_ids": seq_ids, "visual_pos": visual, "target_pos": target, "attention_mask": mask,
            "labels": labels}


class Recipe(nn.Module):
    """Base class of training modes. Subclasses set ``reads`` and implement the abstract methods."""

    mode: ClassVar[str] = ""
    reads: ClassVar[str] = "features"

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.llm = llm          # cxrgen.models.llms.LLM (model + tokenizer + source)
        self.lm = llm.model     # registered submodule: moves with .to(), wrapped by DDP
        self.feature_dim = feature_dim  # last dim of the feature cache (None: no cache / dry-run)

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def load_llm(cls, cfg: Any, *, meta: bool = False, device: Any = None, dtype: Any = None):
        from cxrgen.models.llms import load_llm
        return load_llm(cfg.llm, weights=cfg.weights, meta=meta, device=device, dtype=dtype)

    @classmethod
    def create(cls, cfg: Any, *, meta: bool = False, device: Any = None, dtype: Any = None,
               feature_dim: int | None = None) -> "Recipe":
        """Load the LLM and build the recipe (``dtype``: dtype of a frozen LLM's weights)."""
        llm = cls.load_llm(cfg, meta=meta, device=None if meta else device, dtype=dtype)
        if meta:
            with torch.device("meta"):
                return cls(cfg, llm, feature_dim=feature_dim)
        rec = cls(cfg, llm, feature_dim=feature_dim)
        return rec.to(device) if device is not None else rec

    @classmethod
    def encoder_name(cls, cfg: Any) -> str | None:
        if cls.reads in ("images", "none"):
            return None
        if cfg.encoder:
            return cfg.encoder
        from cxrgen.models.catalog import MODES
        return MODES.get(cfg.mode).info.get("encoder")

    # --- parts and parameters ------------------------------------------------------------------------
    def components(self) -> dict[str, nn.Module]:
        return {"llm": self.lm}

    def freeze(self) -> None:
        """Default: everything but the LLM trains."""
        self.lm.requires_grad_(False)

    def extra_state_names(self) -> list[str]:
        """Names of buffers/frozen tensors that must also be saved (default: none)."""
        return []

    def trainable_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if p.requires_grad] + self.extra_state_names()

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        sd = dict(self.named_parameters())
        sd.update(dict(self.named_buffers()))
        return {n: sd[n].detach().cpu().contiguous() for n in self.trainable_names()}

    def load_trainable_state_dict(self, sd: dict[str, torch.Tensor], where: str = "checkpoint") -> None:
        want = set(self.trainable_names())
        missing, extra = sorted(want - set(sd)), sorted(set(sd) - want)
        if missing or extra:
            raise CheckpointError(f"{where}: tensors do not match mode {self.mode!r} "
                                  f"(missing {missing[:3]}, unexpected {extra[:3]}); "
                                  "was it trained with another --mode or --llm?")
        own = dict(self.named_parameters())
        own.update(dict(self.named_buffers()))
        with torch.no_grad():
            for n, t in sd.items():
                if own[n].shape != t.shape:
                    raise CheckpointError(f"{where}: {n} has shape {tuple(t.shape)}, the model expects "
                                          f"{tuple(own[n].shape)}; check prefix_len/clip_len/mapper settings")
                own[n].copy_(t.to(own[n].dtype))

    def adapter_config(self) -> dict:
        return {"mode": self.mode, "llm": self.cfg.llm, "llm_source": self.llm.source,
                "hidden_size": self.llm.hidden_size}

    # --- data --------------------------------------------------------------------------------------
    def example(self, record: Any, ctx: DataContext, *, train: bool) -> dict:
        raise NotImplementedError

    def collate(self, examples: list[dict], *, train: bool) -> dict:
        raise NotImplementedError

    def batch(self, rows: list[dict], examples: list[dict], *, train: bool, features: bool = False) -> dict:
        """``layout`` of ``rows`` (right-padded to train, left-padded to generate) + ids, references
        and, with ``features=True``, the stacked ``features`` of the examples."""
        batch = layout(rows, self.llm.pad_id, side="right" if train else "left",
                       loss_on=getattr(self.cfg, "loss_on", "response"))
        if features:
            batch["features"] = torch.from_numpy(np.stack([e["features"] for e in examples]))
        batch["ids"] = [e["id"] for e in examples]
        batch["references"] = [e["reference"] for e in examples]
        return batch

    # --- model ------------------------------------------------------------------------------------
    def input_embeds(self, batch: dict) -> torch.Tensor:
        """The (B, T, d) input of the LLM for a collated batch (visual tokens written in)."""
        raise NotImplementedError

    def forward(self, batch: dict) -> dict:
        """Default: the LM loss on the layout's labels (report + EOS)."""
        out = self.lm(inputs_embeds=self.input_embeds(batch), attention_mask=batch["attention_mask"],
                      labels=batch["labels"], use_cache=False)
        return {"loss": out.loss}

    def prepare_generation(self, batch: dict) -> dict:
        return {"inputs_embeds": self.input_embeds(batch), "attention_mask": batch["attention_mask"]}

    # --- shared helpers --------------------------------------------------------------------------
    def embed_layout(self, lay: dict, visual: torch.Tensor | None) -> torch.Tensor:
        """Token embeddings of ``lay["seq_ids"]`` with ``visual`` (B, V, d) written at ``visual_pos``."""
        emb = self.lm.get_input_embeddings()(lay["seq_ids"])
        if visual is not None:
            pos = lay["visual_pos"]
            if int(pos.sum()) != visual.shape[0] * visual.shape[1]:
                raise ConfigError("internal: visual token count does not match the layout")
            emb = emb.clone()
            emb[pos] = visual.reshape(-1, visual.shape[-1]).to(emb.dtype)
        return emb


def check_same_mode(adapter: dict, mode: str, where: str) -> None:
    got = adapter.get("mode")
    if got != mode:
        raise CheckpointError(f"{where}: checkpoint of mode {got!r}, not {mode!r}; use --mode {got} "
                              "or another --run / --resume never")


def as_float32(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)
