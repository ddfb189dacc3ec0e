"""The only place where workspace folder and file names are defined.

    WORKSPACE/
      workspace.json
      prepare/<dataset>/records.jsonl stats.json manifest.json
      embed/<dataset>/<encoder>/features.h5 manifest.json
      train/<run>/config.yaml metrics.jsonl checkpoints/ final/ manifest.json
      generate/<run>/<split>/preds.jsonl manifest.json
      score/<run>/<split>/scores.json per_sample.jsonl manifest.json
      report/<run>/<split>/index.html manifest.json

A stage builds its artifact in the sibling folder ``<name>.partial/`` and renames it into place
after the manifest is written, so a finished folder always has a complete manifest and a failed
re-run never touches the previous good artifact.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cxrgen import __version__
from cxrgen.errors import ConfigError
from cxrgen.utils.io import atomic_write_json

SCHEMA_VERSION = 1
STAGES = ("prepare", "embed", "train", "generate", "score", "report")
# how many path components name one artifact of a stage
KEY_PARTS = {"prepare": ("dataset",), "embed": ("dataset", "encoder"), "train": ("run",),
             "generate": ("run", "split"), "score": ("run", "split"), "report": ("run", "split")}
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json"
DEFAULT_WORKSPACE = "cxrgen-workspace"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

FILES = {
    "records": "records.jsonl",
    "stats": "stats.json",
    "features": "features.h5",
    "config": "config.yaml",
    "metrics": "metrics.jsonl",
    "preds": "preds.jsonl",
    "scores": "scores.json",
    "per_sample": "per_sample.jsonl",
    "report": "index.html",
}

FIX_COMMAND = {
    "prepare": "cxrgen prepare {dataset} …",
    "embed": "cxrgen embed --dataset {dataset} --encoder {encoder}",
    "train": "cxrgen train --run {run} …",
    "generate": "cxrgen generate --run {run} --split {split}",
    "score": "cxrgen score --run {run} --split {split}",
    "report": "cxrgen report --run {run} --split {split}",
}


# file names are limited to 255 bytes; the lock (".<name>.lock") and work folder ("<name>.partial")
# add to the name, and checkpoint temp folders more, so names stay well below that
MAX_NAME = 128


def check_name(value: str, what: str) -> str:
    if not _NAME.match(value or "") or value.endswith(PARTIAL_SUFFIX) or ".." in value:
        raise ConfigError(f"{what} {value!r} is not a valid name: use letters, digits, '.', '_', '+', '-' "
                          f"(not ending in {PARTIAL_SUFFIX})")
    if len(value) > MAX_NAME:
        raise ConfigError(f"{what} {value[:40]}… is {len(value)} characters long; use at most {MAX_NAME}")
    return value


# the options naming an artifact that stay on a rebuild command beside --config (readability; the config
# holds them too). generate's folder may not be its --split (test-shuffled: split test + shuffle_features).
CONFIG_COMMAND = {
    "embed": "cxrgen embed --dataset {dataset} --encoder {encoder}",
    "train": "cxrgen train --run {run}",
    "generate": "cxrgen generate --run {run}",
    "score": "cxrgen score --run {run} --split {split}",
    "report": "cxrgen report --run {run} --split {split}",
}


def fix_command(stage: str, key: tuple[str, ...] | list[str], folder: Path | None = None) -> str:
    """The command that builds an artifact. Given its folder holding the config.yaml it was built with,
    ``… --config FOLDER/config.yaml``: the same artifact again, with every option it had (report
    --compare, generate --beams, score --bootstrap, …), not one built from the defaults."""
    names = dict(zip(KEY_PARTS[stage], key))
    config = folder / FILES["config"] if folder is not None else None
    if config is not None and config.is_file():
        import shlex
        if stage == "prepare":
            reader = _prepare_reader(config)
            if reader:
                return f"cxrgen prepare {shlex.quote(reader)} --config {shlex.quote(str(config))}"
        else:
            return CONFIG_COMMAND[stage].format(**names) + f" --config {shlex.quote(str(config))}"
    return FIX_COMMAND[stage].format(**names)


def _prepare_reader(config: Path) -> str | None:
    """The reader (mimic, iu, synthetic) a prepared set's config.yaml names; None if unreadable."""
    from cxrgen.config.base import read_yaml
    try:
        cfg = read_yaml(config)
    except (ConfigError, OSError):
        return None
    reader = cfg.get("dataset") if isinstance(cfg, dict) else None
    return str(reader) if reader else None


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> "Workspace":
        """--workspace, else $CXRGEN_WORKSPACE, else ./cxrgen-workspace."""
        p = path or os.environ.get("CXRGEN_WORKSPACE") or DEFAULT_WORKSPACE
        ws = cls(Path(p).expanduser().absolute())
        ws.check()
        return ws

    def check(self) -> "Workspace":
        """Refuse a workspace path cxrgen cannot use, before any stage starts: a file, a path that is not
        valid UTF-8 (manifests are UTF-8 JSON), or a workspace.json of another schema version."""
        try:
            str(self.root).encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{os.fsdecode(bytes(self.root))!r}: the workspace path is not valid UTF-8; "
                              "rename the folder or choose another --workspace") from None
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"{self.root}: the workspace is a file, not a folder; choose another --workspace")
        marker = self.root / "workspace.json"
        if marker.exists():
            try:
                doc = json.loads(marker.read_text(encoding="utf-8"))
                version = doc["schema_version"] if isinstance(doc, dict) else None
            except (OSError, ValueError, KeyError):
                version = None
            if version is None:
                raise ConfigError(f"{marker}: unreadable (expected JSON with schema_version {SCHEMA_VERSION}); "
                                  "restore it, or delete it if this folder is a cxrgen workspace")
            if version != SCHEMA_VERSION:
                raise ConfigError(f"{marker}: workspace schema_version {version!r}, this cxrgen reads "
                                  f"{SCHEMA_VERSION}; use the cxrgen version that wrote it, or another --workspace")
        return self

    def init(self) -> "Workspace":
        """Create the workspace marker once (idempotent)."""
        marker = self.root / "workspace.json"
        if not marker.exists():
            atomic_write_json(marker, {"schema_version": SCHEMA_VERSION, "cxrgen_version": __version__})
        return self

    def schema_version(self) -> int | None:
        try:
            return json.loads((self.root / "workspace.json").read_text())["schema_version"]
        except (OSError, ValueError, KeyError):
            return None

    # --- artifact folders ---------------------------------------------------------------
    def artifact_dir(self, stage: str, *key: str) -> Path:
        if stage not in KEY_PARTS:
            raise ValueError(f"unknown stage {stage!r}")
        if len(key) != len(KEY_PARTS[stage]):
            raise ValueError(f"{stage} artifacts are named by {KEY_PARTS[stage]}, got {key}")
        for part, what in zip(key, KEY_PARTS[stage]):
            check_name(part, what)
        return self.root.joinpath(stage, *key)

    def partial_dir(self, stage: str, *key: str) -> Path:
        d = self.artifact_dir(stage, *key)
        return d.with_name(d.name + PARTIAL_SUFFIX)

    def records_path(self, dataset: str) -> Path:
        return self.artifact_dir("prepare", dataset) / FILES["records"]

    def features_path(self, dataset: str, encoder: str) -> Path:
        return self.artifact_dir("embed", dataset, encoder) / FILES["features"]

    def preds_path(self, run: str, split: str) -> Path:
        return self.artifact_dir("generate", run, split) / FILES["preds"]

    def keys(self, stage: str) -> list[tuple[str, ...]]:
        """Keys of the finished or partial artifacts of a stage, sorted."""
        depth = len(KEY_PARTS[stage])
        base = self.root / stage
        found: set[tuple[str, ...]] = set()
        if not base.is_dir():
            return []
        for p in base.glob("/".join(["*"] * depth)):
            if not p.is_dir() or any(part.startswith(".") for part in p.relative_to(base).parts):
                continue
            parts = list(p.relative_to(base).parts)
            if parts[-1].endswith(PARTIAL_SUFFIX):
                parts[-1] = parts[-1][: -len(PARTIAL_SUFFIX)]
            elif any(x.endswith(PARTIAL_SUFFIX) for x in parts[:-1]):
                continue
            found.add(tuple(parts))
        return sorted(found)
