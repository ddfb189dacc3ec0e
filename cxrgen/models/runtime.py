"""Where and how tensors run: device, precision, autocast, loss scaling, DDP wrap and reductions.

One :class:`Runtime` is built per process by ``train``, ``embed`` and ``generate`` from the
``--device`` and ``precision`` settings, so the rules live here once:

* device ``auto``: ``cuda:<local rank>`` when CUDA is available, else ``cpu``; ``cuda*`` on a machine
  without CUDA is a :class:`~cxrgen.errors.ConfigError` (one line, exit 2).
* precision ``auto``: bf16 on a GPU that supports it, fp16 on an older GPU, fp32 on CPU. fp16 gets a
  ``GradScaler``; bf16/fp16 run the forward pass under ``torch.autocast``.

We use plain ``torch`` rather than ``accelerate.Accelerator`` for this plumbing: the trainer needs its
own data order (a permutation per epoch, padded by wrapping under DDP, see ``stages/train.py``),
skipping to an exact optimizer step on resume, and trainable-only safetensors checkpoints. With
accelerate we would replace its sampler sharding, its ``save_state`` (full pickled state) and its
``skip_first_batches`` anyway, which leaves only the autocast/DDP lines this module already holds in
about 100 lines (see docs/manual/training.md, "Why not accelerate").
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from cxrgen.errors import ConfigError
from cxrgen.utils import dist


def resolve_device(spec: str) -> Any:
    """``torch.device`` for ``cpu``, ``cuda``, ``cuda:N`` or ``auto``; ConfigError if CUDA is asked for
    on a machine without it."""
    import torch
    if spec == "auto":
        return torch.device("cuda", dist.local_rank()) if torch.cuda.is_available() else torch.device("cpu")
    from cxrgen.utils.device import require_available
    require_available(spec)  # no CUDA, or cuda:N past the device count: one line before any work
    try:
        return torch.device(spec)
    except RuntimeError as e:
        raise ConfigError(f"--device {spec}: {e}; use cpu, cuda, cuda:N or auto") from None


def resolve_precision(spec: str, device: Any) -> str:
    """``fp32``/``bf16``/``fp16``; ``auto`` is bf16 on a bf16-capable GPU, fp16 on another GPU, fp32 on CPU."""
    if spec != "auto":
        return spec
    if getattr(device, "type", str(device)) == "cuda":
        import torch
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def low_precision_dtype(spec: str, device: Any) -> Any:
    """dtype a frozen LLM's weights are kept in: bf16/fp16 on a GPU, ``None`` (fp32) on CPU or with fp32."""
    import torch
    if device is None or torch.device(device).type != "cuda":
        return None
    prec = resolve_precision(spec, torch.device(device))
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec)


@dataclass
class Runtime:
    """Device, resolved precision and the distributed position of this process."""
    device: Any
    precision: str = "fp32"
    rank: int = 0
    world: int = 1

    @classmethod
    def create(cls, device: str = "auto", precision: str = "auto") -> "Runtime":
        """Initialise torch.distributed when launched by torchrun/srun, then resolve device and precision."""
        dist.init()
        dev = resolve_device(device)
        return cls(dev, resolve_precision(precision, dev), dist.rank(), dist.world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        """Context for forward passes: autocast in bf16/fp16, nothing in fp32."""
        import torch
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def grad_scaler(self):
        """A ``GradScaler`` for fp16 (its small exponent range needs loss scaling), else ``None``."""
        import torch
        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None

    def wrap(self, module: Any) -> Any:
        """``module`` wrapped in DistributedDataParallel when world > 1, else itself."""
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP
        return DDP(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def no_sync(self, model: Any, last: bool):
        """Skip DDP's gradient all-reduce on all but the last micro-batch of an optimizer step."""
        return model.no_sync() if self.world > 1 and not last else contextlib.nullcontext()

    def to_device(self, batch: dict) -> dict:
        """Tensors of a collated batch moved to the device (lists such as ``ids`` stay)."""
        import torch
        return {k: (v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v)
                for k, v in batch.items()}

    def all_reduce_sum(self, t: Any) -> Any:
        """Sum of ``t`` over ranks (in place; ``t`` itself when world = 1)."""
        if self.world > 1:
            import torch.distributed as tdist
            tdist.all_reduce(t)
        return t

    def all_gather_object(self, obj: Any) -> list:
        """``[obj of rank 0, obj of rank 1, …]`` (picklable objects, e.g. RNG states)."""
        if self.world == 1:
            return [obj]
        import torch.distributed as tdist
        out: list = [None] * self.world
        tdist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        dist.barrier()

    def peak_memory(self) -> int:
        """Peak bytes: CUDA allocator peak on a GPU, the process's max RSS on CPU."""
        import resource
        import sys

        import torch
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss if sys.platform == "darwin" else rss * 1024)
