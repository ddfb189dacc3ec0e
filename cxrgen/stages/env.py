"""`cxrgen env`: what a bug report needs — versions, devices, Java, and where weights and the
workspace are. Returns data; the CLI renders it (a table, or JSON with ``--json``). Reads nothing
from the network and loads no model."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from cxrgen.workspace.layout import Workspace


def devices() -> dict:
    """CUDA availability, each GPU's name, memory (GiB) and bf16 support; CPU count."""
    import torch
    out = {"cpu_count": os.cpu_count(), "cuda_available": torch.cuda.is_available(),
           "torch_cuda": torch.version.cuda, "gpus": []}
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            out["gpus"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2**30, 1),
                                "capability": f"{p.major}.{p.minor}", "bf16": torch.cuda.is_bf16_supported()})
    return out


def java() -> dict:
    """The ``java`` on PATH (METEOR and PTB tokenization in ``score`` need it) and its version line."""
    exe = shutil.which("java")
    if exe is None:
        return {"path": None, "version": None}
    try:
        p = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20)
        first = (p.stderr or p.stdout).strip().splitlines()
        return {"path": exe, "version": first[0] if first else None}
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"path": exe, "version": f"unreadable ({e})"}


def locations(ws: Workspace) -> dict:
    """Where cxrgen reads and writes: the workspace, its own cache, and the model caches it looks in."""
    home = Path.home()
    hf_home = os.environ.get("HF_HOME") or str(home / ".cache" / "huggingface")
    cxrgen_cache = os.environ.get("CXRGEN_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", str(home / ".cache")),
                                                                  "cxrgen")
    return {"workspace": str(ws.root), "workspace_exists": ws.root.is_dir(), "cxrgen_cache": cxrgen_cache,
            "huggingface_cache": os.environ.get("HF_HUB_CACHE") or str(Path(hf_home) / "hub"),
            "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE", ""),
            "torch_home": os.environ.get("TORCH_HOME") or str(home / ".cache" / "torch"),
            "torchxrayvision": str(home / ".torchxrayvision" / "models_data")}


def run(ws: Workspace) -> dict:
    """Everything above, plus the platform and the versions of the packages a manifest records."""
    from cxrgen.workspace.manifest import package_versions
    return {"platform": platform.platform(), "versions": package_versions(), "devices": devices(),
            "java": java(), "locations": locations(ws)}
