"""Rank, world size and local rank from the launcher's environment (torchrun, accelerate, srun)."""

from __future__ import annotations

import os


def _env_int(*names: str, default: int) -> int:
    for n in names:
        v = os.environ.get(n)
        if v not in (None, ""):
            return int(v)
    return default


def _srun_per_gpu() -> bool:
    """Launched by `srun` with one task per GPU (no torchrun): ranks come from SLURM's variables."""
    return "RANK" not in os.environ and _env_int("SLURM_NTASKS", default=1) > 1 and "SLURM_PROCID" in os.environ


def rank() -> int:
    return _env_int("SLURM_PROCID", default=0) if _srun_per_gpu() else _env_int("RANK", default=0)


def world_size() -> int:
    return _env_int("SLURM_NTASKS", default=1) if _srun_per_gpu() else _env_int("WORLD_SIZE", default=1)


def local_rank() -> int:
    return _env_int("SLURM_LOCALID", default=0) if _srun_per_gpu() else _env_int("LOCAL_RANK", default=0)


def is_main() -> bool:
    return rank() == 0


def is_distributed() -> bool:
    return world_size() > 1


def init(backend: str | None = None) -> None:
    """Initialise torch.distributed once when launched with WORLD_SIZE > 1 (gloo on CPU, nccl on GPU)."""
    if not is_distributed():
        return
    import torch
    import torch.distributed as tdist
    if tdist.is_initialized():
        return
    if _srun_per_gpu():  # torch's env:// rendezvous reads these
        os.environ.update(RANK=str(rank()), WORLD_SIZE=str(world_size()), LOCAL_RANK=str(local_rank()))
        os.environ.setdefault("MASTER_ADDR", "localhost")
        os.environ.setdefault("MASTER_PORT", "29500")
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    tdist.init_process_group(backend=backend)
    if backend == "nccl":
        torch.cuda.set_device(local_rank())


def shutdown() -> None:
    """Destroy the process group at the end of a successful command (the CLI calls it).

    torch asks for ``destroy_process_group`` before exit: without it, gloo's worker threads can still
    hold finished work (tensors with Python references) while the interpreter is torn down, and a rank
    that has done all its work aborts ("terminate called without an active exception", SIGABRT), failing
    the whole torchrun. Called only after success, as torchtitan does: destroying while another rank
    is still inside a collective (after an error) can deadlock, and torchrun stops the others anyway.
    """
    import sys
    if "torch.distributed" not in sys.modules:
        return
    import gc

    import torch.distributed as tdist
    if tdist.is_initialized():
        gc.collect()          # DDP reducers and their pending work go first
        tdist.barrier()       # no rank tears down while another is still communicating
        tdist.destroy_process_group()


def barrier() -> None:
    if not is_distributed():
        return
    import torch.distributed as tdist
    if tdist.is_initialized():
        tdist.barrier()


def shard(n: int, r: int | None = None, w: int | None = None) -> range:
    """Contiguous shard [start, stop) of n items for rank r of w (so the merge keeps the order)."""
    r = rank() if r is None else r
    w = world_size() if w is None else w
    per, extra = divmod(n, w)
    start = r * per + min(r, extra)
    return range(start, start + per + (1 if r < extra else 0))
