"""Checkpoint folders that describe themselves (no pickles).

    checkpoints/step-000500/  trainable.safetensors  optimizer.pt  state.json  config.yaml  adapter_config.json
    checkpoints/latest        text file naming the newest complete step folder
    final/                    the same without optimizer.pt

``trainable.safetensors`` holds only the tensors the recipe trains; ``optimizer.pt`` holds the
optimizer and scheduler state dicts and is read with ``torch.load(weights_only=True)``;
``state.json`` holds the step, data position and RNG states. A folder is written under a temporary
name and renamed when complete, so a kill never leaves a half checkpoint behind.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

from cxrgen.errors import CheckpointError
from cxrgen.utils.io import atomic_write_json, atomic_write_text, naming_path, os_error

WEIGHTS = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
STATE = "state.json"
ADAPTER = "adapter_config.json"
CONFIG = "config.yaml"
LATEST = "latest"


def step_name(step: int) -> str:
    return f"step-{step:06d}"


# --- RNG states as JSON ---------------------------------------------------------------------------
def rng_state() -> dict:
    import numpy as np
    import torch
    st = {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode(),
          "python": _jsonable(random.getstate()),
          "numpy": _jsonable(np.random.get_state())}
    if torch.cuda.is_available():
        st["cuda"] = [base64.b64encode(s.numpy().tobytes()).decode() for s in torch.cuda.get_rng_state_all()]
    return st


def _jsonable(x: Any) -> Any:
    import numpy as np
    if isinstance(x, np.ndarray):
        return {"__nd__": x.tolist(), "dtype": str(x.dtype)}
    if isinstance(x, (tuple, list)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _unjson(x: Any) -> Any:
    import numpy as np
    if isinstance(x, dict) and "__nd__" in x:
        return np.asarray(x["__nd__"], dtype=x["dtype"])
    if isinstance(x, list):
        return tuple(_unjson(v) for v in x)
    return x


def set_rng_state(st: dict) -> None:
    import numpy as np
    import torch
    torch.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(st["torch"])), dtype=torch.uint8).clone())
    random.setstate(_unjson(st["python"]))
    np.random.set_state(_unjson(st["numpy"]))
    if st.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()
                                      for s in st["cuda"]])


# --- save / load ----------------------------------------------------------------------------------
def save(folder: Path, *, tensors: dict, adapter: dict, config_yaml: str, state: dict,
         optimizer: dict | None = None) -> Path:
    """Write a complete checkpoint folder atomically (temp folder + rename)."""
    import torch
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    with naming_path(tmp):
        tmp.mkdir(parents=True)
    save_safetensors(tensors, tmp / WEIGHTS, {"format": "pt", "mode": str(adapter.get("mode", ""))})
    atomic_write_json(tmp / ADAPTER, adapter)
    atomic_write_text(tmp / CONFIG, config_yaml)
    if optimizer is not None:
        with naming_path(tmp / OPTIMIZER):
            torch.save(optimizer, tmp / OPTIMIZER)
    atomic_write_json(tmp / STATE, state)
    with naming_path(folder):
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    return folder


def save_safetensors(tensors: dict, path: Path, metadata: dict[str, str]) -> None:
    """``safetensors.torch.save_file`` with a deterministic header: the Rust writer emits the metadata
    map in hash order, so identical weights got different bytes (and downstream reruns). The header is
    re-emitted with sorted keys in place (same length: same content, other order). A write failure
    (full disk) is the one-line error naming ``path``."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file
    try:
        with naming_path(path):
            save_file(tensors, str(path), metadata=metadata)
            with open(path, "r+b") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n))
                blob = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                if len(blob) <= n:  # pad with spaces as the format allows; the data offsets are unchanged
                    f.seek(8)
                    f.write(blob + b" " * (n - len(blob)))
    except SafetensorError as e:
        import errno
        raise os_error(OSError(errno.ENOSPC if "28" in str(e) or "StorageFull" in str(e) else errno.EIO,
                               str(e).splitlines()[0][:120]), path) from None


def is_complete(folder: Path) -> bool:
    return all((folder / f).is_file() for f in (WEIGHTS, STATE, ADAPTER, CONFIG))


def set_latest(ckpt_root: Path, name: str) -> None:
    atomic_write_text(ckpt_root / LATEST, name + "\n")


def find_latest(ckpt_root: Path) -> Path | None:
    """The newest complete step folder (by step number; the ``latest`` file is only a pointer for people)."""
    if not ckpt_root.is_dir():
        return None
    steps = [p for p in ckpt_root.glob("step-*") if p.is_dir() and is_complete(p) and (p / OPTIMIZER).is_file()]
    return max(steps, key=lambda p: int(p.name.split("-")[1]), default=None)


def prune(ckpt_root: Path, keep: int) -> None:
    steps = sorted((p for p in ckpt_root.glob("step-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[1]))
    for p in steps[: max(0, len(steps) - max(keep, 1))]:
        shutil.rmtree(p, ignore_errors=True)


def read_adapter(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / ADAPTER).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: not a cxrgen checkpoint (no {ADAPTER}); expected a folder with "
                              f"{WEIGHTS}, {ADAPTER}, {STATE}, {CONFIG}") from None
    except ValueError as e:
        raise CheckpointError(f"{folder}/{ADAPTER}: not valid JSON ({e})") from None


def read_state(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / STATE).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder}/{STATE}: unreadable ({e}); resume from another checkpoint "
                              "or with --resume never") from None


def load_tensors(folder: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise CheckpointError(f"{folder}: missing {WEIGHTS}; only safetensors checkpoints are loaded")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None
    import torch
    for name, t in tensors.items():  # a NaN model generates empty reports with exit 0: refuse it here
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or inf values; this checkpoint is unusable: "
                                  "retrain (lower optim.lr) or use an earlier checkpoint")
    return tensors


def require_finite_loss(first_bad_step: int, run: str, ckpt_root: Path) -> None:
    """Stop training when a loss was not finite (``first_bad_step`` > 0, the 1-based optimizer step):
    one line naming the step and the last good checkpoint, which stays in the work folder; nothing is
    committed. Called before anything is logged or saved, so NaN weights never reach a checkpoint."""
    if first_bad_step <= 0:
        return
    from cxrgen.errors import DivergedError
    last = find_latest(ckpt_root)
    kept = f"the last good checkpoint {last} is kept" if last else "no checkpoint was saved before it"
    raise DivergedError(f"train/{run}: loss is not finite (nan or inf) at step {first_bad_step}; training stopped "
                        f"and nothing was committed; {kept}; lower optim.lr or check the inputs")


def resume_entry(src: Path, *, run: str, mode: str, allow_other: bool) -> dict:
    """The manifest input entry of an explicit ``--resume FOLDER`` (its path and weights' sha256), after
    checking it: same mode; same run unless ``allow_other`` (``--resume-from-other``), because another
    run's checkpoint at or past ``max_steps`` trains nothing and would be committed as this run."""
    import yaml

    from cxrgen.models.recipes.base import check_same_mode
    from cxrgen.workspace.hashing import file_sha256
    src = Path(src)
    check_same_mode(read_adapter(src), mode, str(src))
    try:
        other = (yaml.safe_load((src / CONFIG).read_text(encoding="utf-8")) or {}).get("run")
    except (OSError, ValueError, yaml.YAMLError, AttributeError):
        other = None
    if other != run and not allow_other:
        raise CheckpointError(f"--resume {src}: a checkpoint of run {other!r}, not {run!r}; add --resume-from-other "
                              "to start this run from it (recorded in the manifest), or --resume auto")
    weights = src / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{src}: missing {WEIGHTS}; only safetensors checkpoints are loaded")
    return {"kind": "value", "name": f"resume:{src.resolve()}", "sha256": file_sha256(weights),
            "run": other, "step": read_state(src).get("step")}


def load_optimizer(folder: Path) -> dict:
    import pickle

    import torch
    path = Path(folder) / OPTIMIZER
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: missing {OPTIMIZER}; cannot resume training from it "
                              "(use --resume never to start afresh)") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: refused (only plain tensors/containers are loaded, "
                              f"weights_only=True): {first}") from None
