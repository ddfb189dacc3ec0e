"""manifest.json: what an artifact is, what it was made from and with which settings.

Modelled on dvc.lock: schema version, stage, inputs with fingerprints, the semantic config by value,
outputs with sha256, written last and atomically (``sort_keys=True``).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import socket
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from cxrgen import __version__
from cxrgen.errors import CxrgenError
from cxrgen.utils.io import atomic_write_json
from cxrgen.workspace.hashing import file_sha256, json_hash
from cxrgen.workspace.layout import MANIFEST, SCHEMA_VERSION

TRACKED_PACKAGES = ("torch", "transformers", "peft", "timm", "h5py", "numpy", "pydicom",
                    "pycocoevalcap", "torchxrayvision", "safetensors", "accelerate")


class CorruptManifestError(CxrgenError):
    """A manifest.json that cannot be read (bad input: exit code 3)."""

    exit_code = 3


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "cxrgen": __version__}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def compute_fingerprint(stage: str, config_hash: str, inputs: list[dict]) -> str:
    """hash(stage, semantic config hash, upstream fingerprints and raw-input content hashes)."""
    ins = []
    for i in inputs:
        if i["kind"] == "artifact":
            ins.append(["artifact", i["stage"], i["fingerprint"]])
        elif i["kind"] == "file":
            ins.append(["file", i["sha256"]])
        elif i["kind"] == "dir":
            ins.append(["dir", i["signature"]])
        else:  # "value": something hashed by the stage itself (e.g. weights sha256)
            ins.append(["value", i.get("name"), i["sha256"]])
    return json_hash({"stage": stage, "config": config_hash, "inputs": sorted(ins)})


@dataclass
class Manifest:
    stage: str
    key: list[str]
    fingerprint: str
    config_hash: str
    config: dict
    inputs: list[dict] = field(default_factory=list)
    outputs: dict[str, dict] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    host: str = field(default_factory=socket.gethostname)
    packages: dict[str, str] = field(default_factory=package_versions)
    cxrgen_version: str = __version__
    schema_version: int = SCHEMA_VERSION

    def hash_outputs(self, folder: Path, names: list[str]) -> None:
        for name in names:
            p = folder / name
            st = p.stat()
            self.outputs[name] = {"sha256": file_sha256(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def write(self, folder: Path) -> None:
        atomic_write_json(folder / MANIFEST, dataclasses.asdict(self))


def read_manifest(folder: Path) -> Manifest:
    """Read a manifest; raises CorruptManifestError when it cannot be trusted."""
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as e:
        raise CorruptManifestError(f"{path}: unreadable ({e})") from None
    if not isinstance(data, dict):
        raise CorruptManifestError(f"{path}: not a JSON object")
    names = {f.name for f in dataclasses.fields(Manifest)}
    unknown = sorted(set(data) - names)
    if unknown:  # written by a newer cxrgen: keep going, say what we ignore
        import logging
        logging.getLogger("cxrgen").warning("%s: ignoring unknown keys %s (newer cxrgen?)", path, unknown)
    try:
        m = Manifest(**{k: v for k, v in data.items() if k in names})
    except TypeError as e:
        raise CorruptManifestError(f"{path}: missing fields ({e})") from None
    for name, tp in (("outputs", dict), ("inputs", list), ("counts", dict), ("extra", dict), ("config", dict),
                     ("fingerprint", str), ("stage", str), ("key", list)):
        if not isinstance(getattr(m, name), tp):
            raise CorruptManifestError(f"{path}: '{name}' is a {type(getattr(m, name)).__name__}, "
                                       f"not a {tp.__name__}")
    if not all(isinstance(v, dict) and isinstance(v.get("size"), int) for v in m.outputs.values()) or \
            not all(isinstance(i, dict) and isinstance(i.get("kind"), str) for i in m.inputs):
        raise CorruptManifestError(f"{path}: malformed 'outputs' or 'inputs' entries")
    return m


# files up to this size are hashed whenever a stage reads them (records, preds, small checkpoints);
# larger ones (features.h5, full fine-tuned weights) only when size/mtime changed or with --verify
HASH_ALWAYS_BYTES = 64 << 20


def check_outputs(folder: Path, m: Manifest, verify: bool = False) -> str | None:
    """Why the files of a finished artifact do not match its manifest, or None if they do.

    Size on every call; then mtime (when the manifest has it); a file whose mtime moved, that is small,
    or any file with ``verify`` is hashed and compared with the manifest's sha256."""
    for name, info in sorted(m.outputs.items()):
        p = Path(folder) / name
        try:
            st = p.stat()
        except OSError:
            return f"{name} is missing"
        if not p.is_file():
            return f"{name} is not a file"
        if st.st_size != info.get("size"):
            return f"{name} was modified (size {st.st_size}, manifest says {info.get('size')})"
        moved = "mtime_ns" in info and st.st_mtime_ns != info["mtime_ns"]
        if info.get("sha256") and (verify or moved or st.st_size <= HASH_ALWAYS_BYTES):
            if file_sha256(p) != info["sha256"]:
                return f"{name} was modified (content differs from the manifest's sha256)"
    return None
