"""Status of every artifact, computed as data first (rendered by the CLI as a table or JSON).

Cheapest checks first: manifest present → readable → outputs present with their sizes → upstream
fingerprints → raw inputs (size/mtime, then content only if those changed) → (``verify``) sha256.
Vocabulary: ``up-to-date | stale | partial | missing | corrupt``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from cxrgen.workspace.hashing import dir_signature, file_sha256
from cxrgen.workspace.layout import FILES, KEY_PARTS, STAGES, Workspace, fix_command
from cxrgen.workspace.manifest import CorruptManifestError, check_outputs, read_manifest


@dataclass
class ArtifactStatus:
    stage: str
    key: list[str]
    state: str
    reason: str = ""
    fix: str = ""
    path: str = ""
    fingerprint: str = ""
    counts: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.stage}/{'/'.join(self.key)}"

    def as_dict(self) -> dict:
        return asdict(self) | {"name": self.name}


def _raw_changed(inp: dict) -> str | None:
    p = Path(inp["path"])
    if not p.exists():
        return f"input {p} is gone"
    if inp["kind"] == "dir":
        return None if dir_signature(p, inp.get("suffix")) == inp.get("signature") else f"input {p} changed"
    st = p.stat()
    if st.st_size == inp.get("size") and st.st_mtime_ns == inp.get("mtime_ns"):
        return None
    if inp.get("sha256") and file_sha256(p) == inp["sha256"]:
        return None
    return f"input {p} changed"


# PrepareConfig fields naming where the data lies (runtime-only: the inputs are fingerprinted by content)
_PLACES = ("root", "reports", "projections", "annotation", "images")


def _moved_prepare(final: Path, gone: Path, reason: str, fix: str) -> tuple[str, str]:
    """The command that re-prepares a moved data set: its own config.yaml, with each option whose path
    held the gone input replaced by a placeholder for the new place (``--root NEW_ROOT``). The data
    location does not enter the fingerprint, so that run keeps it and nothing downstream goes stale.
    With no such option (data inside a moved workspace) the config alone finds it again."""
    import shlex

    from cxrgen.config.base import read_yaml
    from cxrgen.errors import ConfigError
    config = final / FILES["config"]
    try:
        cfg = read_yaml(config)
    except (ConfigError, OSError):  # unreadable or hand-edited: keep the generic fix
        return reason, fix
    if not isinstance(cfg, dict) or not cfg.get("dataset"):
        return reason, fix
    reader = str(cfg["dataset"])
    flags = []
    for name in _PLACES:
        value = cfg.get(name)
        if not value:
            continue
        where = {Path(str(value)).expanduser().absolute(), Path(str(value)).expanduser().resolve()}
        if any(gone == w or w in gone.parents for w in where):
            flags.append(f"--{name.replace('_', '-')} NEW_{name.upper()}")
    cmd = f"cxrgen prepare {shlex.quote(reader)} --config {shlex.quote(str(config))}"
    if flags:
        reason += f"; give its new place as {' and '.join(f.split()[0] for f in flags)}"
    return reason, " ".join([cmd, *flags])


def artifact_status(ws: Workspace, stage: str, key: tuple[str, ...], verify: bool = False) -> ArtifactStatus:
    final = ws.artifact_dir(stage, *key)
    st = ArtifactStatus(stage, list(key), "missing", path=str(final), fix=fix_command(stage, key, final))
    if not final.exists():
        if ws.partial_dir(stage, *key).exists():
            st.state, st.reason, st.path = "partial", "interrupted or running; re-run to resume", str(ws.partial_dir(stage, *key))
        return st
    try:
        m = read_manifest(final)
    except FileNotFoundError:
        st.state, st.reason = "partial", "no manifest.json (never finished)"
        return st
    except CorruptManifestError as e:
        st.state, st.reason = "corrupt", str(e)
        st.fix += " --force"
        return st
    st.fingerprint, st.counts = m.fingerprint, m.counts
    bad = check_outputs(final, m, verify=verify)
    if bad:
        st.state, st.reason, st.fix = "corrupt", bad, st.fix + " --force"
        return st
    for inp in m.inputs:
        if inp["kind"] == "artifact":
            up_key = tuple(inp["key"])
            up_name = f"{inp['stage']}/{'/'.join(up_key)}"
            try:
                up = read_manifest(ws.artifact_dir(inp["stage"], *up_key))
            except (FileNotFoundError, CorruptManifestError):
                st.state, st.reason = "stale", f"upstream {up_name} is missing or unfinished"
                return st
            if up.fingerprint != inp["fingerprint"]:
                st.state, st.reason = "stale", f"upstream {up_name} changed"
                return st
        elif inp["kind"] in ("file", "dir"):
            why = _raw_changed(inp)
            if why:
                st.state, st.reason = "stale", why
                if why.endswith("is gone"):  # moved? re-running the stage with its new place records it
                    st.reason += " (moved?)"
                    if stage == "prepare":
                        st.reason, st.fix = _moved_prepare(final, Path(inp["path"]), st.reason, st.fix)
                return st
    st.state, st.fix = "up-to-date", ""
    enc = m.extra.get("encoder") if isinstance(m.extra, dict) else None
    if isinstance(enc, dict) and enc.get("weights") == "random-init" and not str(enc.get("encoder", "")).startswith("tiny-"):
        st.reason = "features from random weights (--allow-random-weights)"
    return st


def workspace_status(ws: Workspace, verify: bool = False) -> list[ArtifactStatus]:
    out = []
    for stage in STAGES:
        for key in ws.keys(stage):
            if len(key) == len(KEY_PARTS[stage]):
                out.append(artifact_status(ws, stage, key, verify=verify))
    return out
