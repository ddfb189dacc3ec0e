"""Device names: checked once where a config is built (syntax) and where a stage picks its device
(availability), so ``--device mps``, ``CPU``, an empty value or ``cuda`` on a CPU-only machine are
one-line errors before anything is written."""

from __future__ import annotations

import re

from cxrgen.errors import ConfigError

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def normalize_device(spec: str, key: str = "device") -> str:
    """``spec`` lower-cased and stripped if it is auto, cpu, cuda or cuda:N; else a ConfigError."""
    value = (spec or "").strip().lower()
    if not _DEVICE.match(value):
        raise ConfigError(f"--{key.replace('_', '-')} {spec!r}: not a supported device; use auto, cpu, cuda or cuda:N")
    return value


def require_available(spec: str) -> str:
    """``spec`` (already normalized) if this machine has it; CUDA absent or an index out of range is a ConfigError."""
    if not spec.startswith("cuda"):
        return spec
    import torch
    if not torch.cuda.is_available():
        raise ConfigError(f"--device {spec}: CUDA is not available on this machine; use --device cpu or auto")
    if ":" in spec and int(spec.split(":")[1]) >= torch.cuda.device_count():
        raise ConfigError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return spec
