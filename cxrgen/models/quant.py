"""4-bit NF4 loading with double quantisation (QLoRA, Dettmers et al. 2023) for the ``qlora`` recipe.

bitsandbytes is an optional GPU extra (``pip install 'cxrgen[gpu]'``) imported only here and only
when 4-bit loading is asked for; without it, or without CUDA, the error says what to install or
which setting to use instead (``quant=none`` runs the same recipe unquantised, e.g. on CPU).
"""

from __future__ import annotations

from typing import Any

from cxrgen.errors import ConfigError, DependencyError

INSTALL_HINT = "pip install 'cxrgen[gpu]'"


def require_bitsandbytes() -> Any:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise DependencyError(f"quant=nf4 needs bitsandbytes, which is not installed: {INSTALL_HINT} "
                              "(or set quant=none to load the LLM unquantised)") from None
    return bitsandbytes


def resolve_quant(quant: str, device: str) -> str:
    """``auto`` → ``nf4`` on CUDA, ``none`` elsewhere; ``nf4`` off CUDA is an error naming the fix."""
    on_cuda = device.startswith("cuda")
    if quant == "auto":
        return "nf4" if on_cuda else "none"
    if quant == "nf4" and not on_cuda:
        raise ConfigError(f"quant=nf4 needs a CUDA device (device is {device!r}); use quant=none on CPU")
    return quant


def nf4_config(compute_dtype: str = "bfloat16"):
    """transformers ``BitsAndBytesConfig``: 4-bit NF4 weights, double quantisation, bf16/fp16 compute."""
    require_bitsandbytes()
    import torch
    from transformers import BitsAndBytesConfig
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=getattr(torch, compute_dtype))


def prepare_kbit(model: Any, grad_checkpointing: bool) -> Any:
    """peft's ``prepare_model_for_kbit_training`` (fp32 norms, input grads, optional checkpointing)."""
    from peft import prepare_model_for_kbit_training
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=grad_checkpointing)
