"""One build of one artifact: fingerprint, up-to-date check, lock, resumable work folder, commit.

    build = ArtifactBuild(ws, "embed", (dataset, encoder), cfg, inputs, force=force)
    if (m := build.up_to_date()):           # same fingerprint, outputs intact: reuse
        return m
    with build:                              # lock; <name>.partial/ ready (resumed or fresh)
        ...write files into build.work_dir...
        return build.commit(["features.h5"], counts={...})

The work folder survives a crash (kill -9) and is resumed by the next run with the same fingerprint;
a run with another fingerprint, ``--force`` or ``resume=False`` starts it afresh. ``commit`` writes
the manifest last, then renames the folder into place, so the previous good artifact stays untouched
until the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from cxrgen.config.base import semantic_dict, semantic_hash, to_yaml
from cxrgen.errors import MissingArtifactError, WorkspaceWriteError
from cxrgen.utils.io import atomic_write_json, atomic_write_text
from cxrgen.workspace.lock import ArtifactLock
from cxrgen.workspace.layout import FILES, MANIFEST, Workspace, fix_command
from cxrgen.workspace.manifest import (CorruptManifestError, Manifest, check_outputs, compute_fingerprint,
                                      read_manifest)

PROGRESS = "progress.json"
OLD_INFIX = ".old-"  # .<name>.old-<pid>-<time>: the previous artifact during a commit


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _recover(final_dir: Path, work_dir: Path) -> None:
    try:
        done = recover_commit(final_dir, work_dir)
    except OSError as e:
        from cxrgen.utils.io import os_error
        raise os_error(e, final_dir) from None
    if done:
        import logging
        logging.getLogger("cxrgen").warning("%s: %s", final_dir, done)


_VERIFY = [False]


def set_verify(flag: bool) -> None:
    """Set by the CLI for each invocation from ``cxrgen --verify``."""
    _VERIFY[0] = bool(flag)


def verify_requested() -> bool:
    """``cxrgen --verify`` (or ``CXRGEN_VERIFY=1``): hash every upstream file a stage reads, whatever its size."""
    return _VERIFY[0] or os.environ.get("CXRGEN_VERIFY", "") not in ("", "0")


def upstream(ws: Workspace, stage: str, *key: str, fix: str | None = None) -> tuple[dict, Manifest]:
    """The manifest of a finished upstream artifact as an input entry, or an error naming the fix.

    The artifact's files are checked against its manifest first (:func:`check_outputs`: size and mtime,
    content for small files or with ``--verify``), so no stage builds on a file known to be bad."""
    folder = ws.artifact_dir(stage, *key)
    fix = fix or fix_command(stage, key, folder)
    what = f"{stage}/{'/'.join(key)}"
    _recover(folder, ws.partial_dir(stage, *key))
    try:
        m = read_manifest(folder)
    except FileNotFoundError:
        state = "partial (interrupted)" if ws.partial_dir(stage, *key).exists() or folder.exists() else "missing"
        hint = did_you_mean(ws, stage, key) if state == "missing" else ""
        hint = f"{hint}; else " if hint else ""
        raise MissingArtifactError(f"{what} is {state} in {ws.root}; {hint}run `{fix}` first") from None
    except CorruptManifestError as e:
        raise MissingArtifactError(f"{what} is corrupt ({e}); run `{fix} --force`") from None
    bad = check_outputs(folder, m, verify=verify_requested())
    if bad:
        raise MissingArtifactError(f"{what} is corrupt: {bad}; nothing was built from it; "
                                   f"run `{fix} --force` to rebuild it") from None
    entry = {"kind": "artifact", "stage": stage, "key": list(key), "fingerprint": m.fingerprint}
    return entry, m


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def why_rebuild(old: Manifest, config: dict, inputs: list[dict], most: int = 3) -> str:
    """Why an existing artifact no longer matches: the settings that differ (``max_new_tokens 64 → 100``)
    or the upstream that changed, in one line, so a user who re-runs a stage sees why it is not reused
    instead of silently losing the artifact they had (e.g. one ``cxrgen demo`` made with other settings)."""
    new, was = _flat(config), _flat(old.config or {})
    changed = [f"{k} {was[k]!r} → {v!r}" for k, v in new.items() if k in was and was[k] != v]
    up_old = {(i.get("stage"), tuple(i.get("key") or ())): i.get("fingerprint") for i in old.inputs if i["kind"] == "artifact"}
    changed += [f"upstream {i['stage']}/{'/'.join(i['key'])} was rebuilt" for i in inputs
                if i["kind"] == "artifact" and up_old.get((i["stage"], tuple(i["key"]))) not in (None, i["fingerprint"])]
    raw_old = {i.get("name") or i.get("path"): i.get("sha256") or i.get("signature") for i in old.inputs
               if i["kind"] != "artifact"}
    changed += [f"input {Path(str(k)).name} changed" for i in inputs if i["kind"] != "artifact"
                for k in [i.get("name") or i.get("path")] if k in raw_old and raw_old[k] != (i.get("sha256") or i.get("signature"))]
    if not changed:
        return "its inputs or cxrgen's version changed"
    more = f" and {len(changed) - most} more" if len(changed) > most else ""
    return ", ".join(changed[:most]) + more


def did_you_mean(ws: Workspace, stage: str, key: Sequence[str]) -> str:
    """For a missing artifact whose name is a typo of one that exists (``--run demo-prefx``, ``--split
    tset``, ``--encoder medclip-vit`` beside ``tiny-medclip-vit``): "did you mean …", else "".

    Walks the key part by part; at the first part with no folder, offers the closest existing names
    (difflib), so the user is not sent to build a new artifact under the mistyped name."""
    import difflib
    folder = ws.root / stage
    for i, part in enumerate(key):
        if (folder / part).is_dir():
            folder = folder / part
            continue
        names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.endswith(".partial")) \
            if folder.is_dir() else []
        close = difflib.get_close_matches(part, names, n=3, cutoff=0.6)
        if not close:
            return ""
        alts = " or ".join(f"{stage}/{'/'.join([*key[:i], c])}" for c in close)
        return f"did you mean {alts}? (existing: {', '.join(names[:8])}{' …' if len(names) > 8 else ''})"
    return ""


class ArtifactBuild:
    def __init__(self, ws: Workspace, stage: str, key: Sequence[str], cfg: Any, inputs: list[dict], *,
                 force: bool = False, resume: bool = True, rank: int = 0):
        self.ws, self.stage, self.key, self.cfg = ws, stage, tuple(key), cfg
        self.inputs = inputs
        self.force, self.resume, self.rank = force, resume, rank
        self.config_hash = semantic_hash(cfg)
        self.fingerprint = compute_fingerprint(stage, self.config_hash, inputs)
        self.final_dir = ws.artifact_dir(stage, *self.key)
        self.work_dir = ws.partial_dir(stage, *self.key)
        self.started = _now()
        self.resumed = False
        self._lock = ArtifactLock(self.final_dir.parent / f".{self.final_dir.name}.lock",
                                  f"{stage}/{'/'.join(self.key)}")

    # ---------------------------------------------------------------------------------
    def up_to_date(self) -> Manifest | None:
        """The existing manifest if the artifact is complete and made from the same inputs/config."""
        if self.rank == 0:
            _recover(self.final_dir, self.work_dir)
        m, why = self.check()
        if why.startswith("changed: "):
            import logging
            logging.getLogger("cxrgen").info("rebuilding %s/%s: %s", self.stage, "/".join(self.key),
                                             why[len("changed: "):])
        return m

    def check(self) -> tuple[Manifest | None, str]:
        """(the existing manifest, "up to date") if a run would reuse it, else (None, why not); reads only
        (no recovery of an interrupted commit, no log), so a ``--dry-run`` plan can say it."""
        if self.force:
            return None, "--force: rebuilt whatever its state"
        try:
            m = read_manifest(self.final_dir)
        except FileNotFoundError:
            return None, "missing" if not self.work_dir.exists() else "partial (interrupted)"
        except CorruptManifestError as e:
            return None, f"corrupt ({e})"
        if m.fingerprint != self.fingerprint:
            return None, "changed: " + why_rebuild(m, semantic_dict(self.cfg), self.inputs)
        # same content elsewhere (a moved data set or workspace): rebuild to record where it is now, so
        # `status` stops calling it stale and the command it suggests does what it says
        if _raw_paths(m.inputs) != _raw_paths(self.inputs):
            return None, "its input files moved"
        bad = check_outputs(self.final_dir, m)
        return (None, f"corrupt: {bad}") if bad else (m, "up to date")

    def __enter__(self) -> "ArtifactBuild":
        self.ws.init()
        if self.rank != 0:
            return self
        self._lock.acquire()
        try:
            self._prepare_work_dir()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _prepare_work_dir(self) -> None:
        progress = self.work_dir / PROGRESS
        keep = False
        if self.work_dir.exists() and self.resume and not self.force:
            try:
                import json
                keep = json.loads(progress.read_text()).get("fingerprint") == self.fingerprint
            except (OSError, ValueError):
                keep = False
        if self.work_dir.exists() and not keep:
            shutil.rmtree(self.work_dir)
        self.resumed = keep
        if keep:
            drop_temp_files(self.work_dir)
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(progress, {"fingerprint": self.fingerprint, "stage": self.stage,
                                         "key": list(self.key), "started": self.started})
            atomic_write_text(self.work_dir / FILES["config"], to_yaml(self.cfg))
        except OSError as e:
            if isinstance(e, WorkspaceWriteError):
                raise
            raise WorkspaceWriteError(f"{self.work_dir}: cannot write ({e.strerror}); "
                                      "free space or choose another --workspace") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.rank == 0:
            self._lock.release()

    # ---------------------------------------------------------------------------------
    def commit(self, outputs: list[str], counts: dict | None = None, extra: dict | None = None) -> Manifest:
        """Write the manifest (last), then move the finished folder into place."""
        m = Manifest(stage=self.stage, key=list(self.key), fingerprint=self.fingerprint,
                     config_hash=self.config_hash, config=semantic_dict(self.cfg), inputs=self.inputs,
                     counts=counts or {}, extra=extra or {}, started=self.started, finished=_now())
        drop_temp_files(self.work_dir)  # a kill mid-write in a resumed folder must not commit a temp file
        m.hash_outputs(self.work_dir, outputs)
        (self.work_dir / PROGRESS).unlink(missing_ok=True)
        m.write(self.work_dir)
        self._swap_in()
        return m

    def _swap_in(self) -> None:
        old = self.final_dir.with_name(f".{self.final_dir.name}{OLD_INFIX}{os.getpid()}-{int(time.time())}")
        try:
            if self.final_dir.exists():
                os.replace(self.final_dir, old)
            os.replace(self.work_dir, self.final_dir)
        except OSError as e:
            if old.exists() and not self.final_dir.exists():
                os.replace(old, self.final_dir)  # put the previous good artifact back
            raise WorkspaceWriteError(f"{self.final_dir}: cannot finish ({e.strerror}); previous artifact kept") from None
        shutil.rmtree(old, ignore_errors=True)


def _raw_paths(inputs: list[dict]) -> list[str]:
    return sorted(str(i.get("path")) for i in inputs if i.get("kind") in ("file", "dir"))


def _is_tmp(name: str) -> bool:
    """A temp file of :func:`cxrgen.utils.io.atomic_path` (``.<name>.<random>.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def drop_temp_files(folder: Path) -> None:
    """Remove atomic-write temp files a kill left in a work folder (they are never outputs)."""
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if _is_tmp(name):
                Path(dirpath, name).unlink(missing_ok=True)


def recover_commit(final_dir: Path, work_dir: Path) -> str | None:
    """Finish or roll back a commit that a kill interrupted between its two renames; returns what was done.

    A commit renames ``final`` to ``.final.old-*``, then ``final.partial`` (manifest written last, so a
    manifest there means it is finished) to ``final``, then deletes the old folder. Killed after the first
    rename: a finished work folder is swapped in, else the old artifact is put back. Old folders beside an
    intact ``final`` are leftovers of a finished swap. Only folders named by this scheme and holding a
    manifest (written by cxrgen) are touched."""
    olds = sorted(final_dir.parent.glob(f".{glob_escape(final_dir.name)}{OLD_INFIX}*"),
                  key=lambda p: p.stat().st_mtime)
    olds = [o for o in olds if o.is_dir() and (o / MANIFEST).is_file() and not _swapping(o)]
    if not olds:
        return None
    done = None
    if not final_dir.exists():
        if (work_dir / MANIFEST).is_file() and not (work_dir / PROGRESS).exists():
            drop_temp_files(work_dir)
            os.replace(work_dir, final_dir)
            done = "completed an interrupted commit"
        else:
            os.replace(olds.pop(), final_dir)
            done = "rolled back an interrupted commit (the previous artifact is back)"
    for o in olds:
        shutil.rmtree(o, ignore_errors=True)
    return done or "removed the leftovers of a finished commit"


def _swapping(old: Path) -> bool:
    """True if the process that named ``old`` is alive (it is between its renames right now)."""
    from cxrgen.workspace.lock import _alive
    try:
        pid = int(old.name.rsplit(OLD_INFIX, 1)[1].split("-")[0])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and _alive(pid)


def glob_escape(name: str) -> str:
    import glob
    return glob.escape(name)
