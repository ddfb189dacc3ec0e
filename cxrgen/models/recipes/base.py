"""The Recipe contract: what a training mode (`cxrgen train --mode M`) fills in.

A recipe is an ``nn.Module`` holding the LLM (``self.lm``, a transformers causal LM) and its own
trainable parts (mapper, projector, LoRA, encoders …). The trainer (``cxrgen.models.trainer``) and
the generator (``cxrgen.stages.generate``) only talk to this interface. Register a new mode in
``cxrgen.models.catalog.MODES`` (``'module:Class'``).

Class attributes
    ``mode``             the ``--mode`` name (also written to ``adapter_config.json``).
    ``reads``            what a sample needs: ``"features"`` (features.h5 rows), ``"scores"``
                         (features.h5 ``/scores``), ``"images"`` (files under the prepare root),
                         ``"none"`` (report text only).
    ``frozen_llm``       True when the LLM's own weights never train: they are then kept in bf16/fp16
                         on a GPU (:meth:`Recipe.llm_dtype`, the one place this is decided).
    ``default_encoder``  the embed artifact read when ``cfg.encoder`` is empty.

Required methods
    ``__init__(cfg, llm, feature_dim)``  call ``super().__init__(cfg, llm, feature_dim)``, build the
                         parts, then ``self.freeze()``.
    ``inputs(record, ctx) -> dict``      the model inputs of one study (numpy arrays, lists of ids;
                         e.g. ``features``, ``pre``, ``post``), built in the DataLoader; ``ctx`` is a
                         :class:`DataContext`.
    ``layout_row(example) -> dict``      ``pre``/``post`` (ids) and ``n_visual`` (int) of the sequence
                         ``[pre][visual × n_visual][post][target]``.
    ``input_embeds(batch) -> (B, T, d)`` the LLM input of a collated batch, visual tokens written in
                         (usually ``self.embed_layout(batch, visual)``).

Optional hooks (defaults in this class)
    ``load_llm(cfg, meta=, device=)``    ``cxrgen.models.llms.load_llm`` in ``llm_dtype``; qlora quantises.
    ``freeze()``                         everything but the LLM trains.
    ``collate_inputs(examples) -> dict`` stacks ``features`` when the examples have them.
    ``forward(batch) -> dict``           ``{"loss": LM loss on the target}``; add scalar terms to log.
    ``prepare_generation(batch)``        ``{"inputs_embeds", "attention_mask"}`` for ``lm.generate``.
    ``components()``                     parts counted by ``--dry-run`` (``{"llm": self.lm}``).
    ``adapter_config() -> dict``         JSON beside every checkpoint; extend with ``super()``.
    ``extra_state_names()``              buffers to save besides the parameters that require grad.
    ``export(folder) -> [names]``        extra files in ``final/`` (``--mode lm`` writes ``hf/``).
    ``generation_length(example)``       prompt length; generation sorts each chunk by it.

Provided by the base (not overridden)
    ``example(record, ctx, with_targets=)`` id + reference + ``inputs`` (+ ``target``: report ids + EOS).
    ``collate(examples, with_targets=)``    right-padded with targets, left-padded without (generation);
                                            ``ids`` and ``references`` stay lists.
    ``train(mode)``                         an LLM with no trainable parameter stays in eval mode.
    ``trainable_state_dict()`` / ``load_trainable_state_dict(sd)``: the tensors saved to
    ``trainable.safetensors`` (parameters that require grad + ``extra_state_names()``), loaded strictly.

Labels cover the target (report + EOS), or with ``loss_on=all`` the prompt text too (:func:`layout`).
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
    """Base class of training modes: subclasses set the class attributes, implement the required
    methods and may override the optional hooks (see the module docstring for the full contract)."""

    mode: ClassVar[str] = ""
    reads: ClassVar[str] = "features"
    frozen_llm: ClassVar[bool] = True       # the LLM's own weights do not train: kept in bf16/fp16 on a GPU
    default_encoder: ClassVar[str | None] = None   # embed artifact read when cfg.encoder is empty

    def __init__(self, cfg: Any, llm: Any, feature_dim: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.llm = llm          # cxrgen.models.llms.LLM (model + tokenizer + source)
        self.lm = llm.model     # registered submodule: moves with .to(), wrapped by DDP
        self.feature_dim = feature_dim  # last dim of the feature cache (None: no cache / dry-run)

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def llm_dtype(cls, cfg: Any, device: Any) -> Any:
        """dtype of the LLM's weights: bf16/fp16 for a frozen LLM on a GPU (``cfg.precision``), as
        R2GenGPT's ``bf16-mixed`` run keeps Llama-2 (~13.5 GB instead of 27 GB for 7B); else None (fp32).
        The one place this is decided, so ``load_run`` rebuilds the model that was trained."""
        if not cls.frozen_llm:
            return None
        from cxrgen.models.runtime import low_precision_dtype
        return low_precision_dtype(cfg.precision, device)

    @classmethod
    def load_llm(cls, cfg: Any, *, meta: bool = False, device: Any = None):
        """Optional hook: the LLM (``cxrgen.models.llms.LLM``); override e.g. to quantise (qlora)."""
        from cxrgen.models.llms import load_llm
        dtype = None if meta else cls.llm_dtype(cfg, device)
        return load_llm(cfg.llm, weights=cfg.llm_weights, meta=meta, device=device, dtype=dtype)

    @classmethod
    def create(cls, cfg: Any, *, meta: bool = False, device: Any = None,
               feature_dim: int | None = None) -> "Recipe":
        """Load the LLM and build the recipe on ``device`` (``meta=True``: no weights, for --dry-run)."""
        llm = cls.load_llm(cfg, meta=meta, device=None if meta else device)
        if meta:
            with torch.device("meta"):
                return cls(cfg, llm, feature_dim=feature_dim)
        rec = cls(cfg, llm, feature_dim=feature_dim)
        return rec.to(device) if device is not None else rec

    @classmethod
    def encoder_name(cls, cfg: Any) -> str | None:
        """The embed artifact read: ``cfg.encoder``, else ``default_encoder``; None for images/text."""
        if cls.reads in ("images", "none"):
            return None
        return cfg.encoder or cls.default_encoder

    # --- parts and parameters ------------------------------------------------------------------------
    def components(self) -> dict[str, nn.Module]:
        """Optional hook: parts counted by --dry-run."""
        return {"llm": self.lm}

    def freeze(self) -> None:
        """Optional hook (called at the end of ``__init__``): default, everything but the LLM trains."""
        self.lm.requires_grad_(False)

    def train(self, mode: bool = True):
        """An LLM without trainable parameters stays in eval mode (no dropout), as ClipCap's
        ClipCaptionPrefix and R2GenGPT keep their frozen LLMs."""
        super().train(mode)
        if not any(p.requires_grad for p in self.lm.parameters()):
            self.lm.eval()
        return self

    def extra_state_names(self) -> list[str]:
        """Optional hook: names of buffers/frozen tensors that must also be saved (default: none)."""
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
        """Optional hook (extend with ``super()``): JSON written beside every checkpoint."""
        return {"mode": self.mode, "llm": self.cfg.llm, "llm_source": self.llm.source,
                "hidden_size": self.llm.hidden_size}

    def export(self, folder: Path) -> list[str]:
        """Optional hook: extra files written into the final checkpoint folder (relative names)."""
        return []

    # --- data --------------------------------------------------------------------------------------
    def inputs(self, record: Any, ctx: DataContext) -> dict:
        """Required: the model inputs of one study (numpy arrays / lists of ids), built in the DataLoader."""
        raise NotImplementedError

    def layout_row(self, example: dict) -> dict:
        """Required: the example's ``pre``/``post`` ids and ``n_visual`` for :func:`layout`."""
        raise NotImplementedError

    def collate_inputs(self, examples: list[dict]) -> dict:
        """Optional hook: batch tensors besides the layout; default stacks ``features`` when present."""
        if "features" not in examples[0]:
            return {}
        return {"features": torch.from_numpy(np.stack([e["features"] for e in examples]))}

    def example(self, record: Any, ctx: DataContext, *, with_targets: bool) -> dict:
        """One sample: id, reference text, :meth:`inputs` and, ``with_targets``, the target ids."""
        ex = {"id": record.id, "reference": record.report, **self.inputs(record, ctx)}
        if with_targets:
            ex["target"] = target_ids(ctx.tokenizer, record.report, ctx.max_len)
        return ex

    def collate(self, examples: list[dict], *, with_targets: bool) -> dict:
        """A batch: right-padded with targets (training, validation), left-padded without (generation)."""
        rows = [{**self.layout_row(e), "target": e["target"] if with_targets else []} for e in examples]
        batch = layout(rows, self.llm.pad_id, side="right" if with_targets else "left",
                       loss_on=getattr(self.cfg, "loss_on", "response"))
        batch.update(self.collate_inputs(examples))
        batch["ids"] = [e["id"] for e in examples]
        batch["references"] = [e["reference"] for e in examples]
        return batch

    def generation_length(self, example: dict) -> int:
        """Prompt length of an example; ``generate`` sorts each chunk by it so batches pad little."""
        r = self.layout_row(example)
        return len(r.get("pre", [])) + int(r.get("n_visual", 0)) + len(r.get("post", []))

    # --- model ------------------------------------------------------------------------------------
    def input_embeds(self, batch: dict) -> torch.Tensor:
        """Required: the (B, T, d) input of the LLM for a collated batch (visual tokens written in)."""
        raise NotImplementedError

    def forward(self, batch: dict) -> dict:
        """Optional hook: default, the LM loss on the layout's labels (report + EOS)."""
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


def registry_dim(name: str) -> int:
    """Feature size of a registered encoder (used before the cache exists, e.g. --dry-run)."""
    from cxrgen.models.catalog import ENCODERS
    if name not in ENCODERS:
        raise ConfigError(f"encoder {name!r} is not in the registry; the feature size is unknown before "
                          "the cache exists (run `cxrgen embed` first)")
    return int(ENCODERS.get(name).info["dim"])


def on_meta() -> bool:
    """True while a recipe is being built under ``torch.device("meta")`` (--dry-run)."""
    return torch.empty(0).device.type == "meta"


def check_same_mode(adapter: dict, mode: str, where: str) -> None:
    got = adapter.get("mode")
    if got != mode:
        raise CheckpointError(f"{where}: checkpoint of mode {got!r}, not {mode!r}; use --mode {got} "
                              "or another --run / --resume never")
