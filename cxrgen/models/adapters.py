"""LoRA adapters for the recipes, built with peft from a :class:`~cxrgen.config.schema.LoraSpec`.

Two published settings:

* R2GenGPT *delta* (Wang et al. 2023, §3 c and "Implementation Details"): LoRA on the Swin-B
  attention **query and value** projections, r = 16, alpha = 16, dropout 0.1 (the released code's
  ``--lora_dropout`` default). Swin-B has 24 blocks of widths 128·2, 256·2, 512·18, 1024·2, each
  adding 2·16·(2w) parameters: 770,048 in all.
* LLaMA-XR (Jahangir, Kabir, Akter, Jahan & Chau 2025, §3.5): LoRA r = 16 on ``q,k,v,o,gate,up,down`` of
  Llama-3.1-8B — 1,310,720 per layer × 32 layers = 41,943,040 trainable parameters.

Target names follow transformers ≥ 5 (Swin attention: ``q_proj/k_proj/v_proj/o_proj``); the older
``query/key/value`` names are accepted as aliases so a model built by transformers 4 still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from cxrgen.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from cxrgen.config.schema import LoraSpec

SWIN_QV = ("q_proj", "v_proj")
LLAMA_ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_ALIASES = {"q_proj": "query", "k_proj": "key", "v_proj": "value", "o_proj": "output.dense"}


def linear_names(model: "nn.Module") -> list[str]:
    """Distinct leaf names of the linear layers in ``model`` (what LoRA can target)."""
    from torch import nn
    return sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear) and n})


def resolve_targets(model: "nn.Module", wanted: Iterable[str], *, what: str) -> list[str]:
    """Map the requested target names onto the names ``model`` really uses, or fail listing them."""
    names = {n for n, _ in model.named_modules()}
    leaves = {n.rsplit(".", 1)[-1] for n in names if n}
    suffixes = {".".join(n.split(".")[-2:]) for n in names if n.count(".") >= 1}
    out, missing = [], []
    for t in wanted:
        if t in leaves:
            out.append(t)
        elif _ALIASES.get(t) in leaves or _ALIASES.get(t) in suffixes:
            out.append(_ALIASES[t])
        else:
            missing.append(t)
    if missing:
        raise ConfigError(f"LoRA targets {', '.join(missing)} not found in the {what}; its linear layers are: "
                          f"{', '.join(linear_names(model))} (set lora.targets=...)")
    return out


def lora_config(spec: "LoraSpec", model: "nn.Module", default_targets: tuple[str, ...], *, what: str,
                causal_lm: bool = False):
    """A peft ``LoraConfig`` for ``model`` from ``spec`` (its ``targets`` win over the recipe default)."""
    from peft import LoraConfig
    targets = resolve_targets(model, spec.targets or default_targets, what=what)
    kw = {"task_type": "CAUSAL_LM"} if causal_lm else {}
    return LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets,
                      bias="none", **kw)


def add_lora(model: "nn.Module", spec: "LoraSpec", default_targets: tuple[str, ...], *, what: str,
             causal_lm: bool = False):
    """Wrap ``model`` with LoRA adapters; only the adapter weights stay trainable."""
    from peft import get_peft_model
    cfg = lora_config(spec, model, default_targets, what=what, causal_lm=causal_lm)
    return get_peft_model(model, cfg)
