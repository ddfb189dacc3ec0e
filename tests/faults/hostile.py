"""Fault cases from a hostile-but-fair review (issue 12): deleting what is not ours, unbounded resources,
building on known-bad upstream files, locks that outlive their cause, garbage committed as up to date,
tracebacks where one line belongs, and the minor items. Each is a Case of tests/faults/test_bad_inputs.py
(and a row of docs/faults.md); setups get (tmp, ws) where ws is a copy of the pipeline workspace
(prepare syn → embed → train r → generate r/test → score r/test) and tmp/data its synthetic data set."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable

from tests.faults.harness import Case

TRAIN = ["train", "--mode", "prefix", "--llm", "tiny-gpt2", "--dataset", "syn", "--encoder", "tiny-medclip-vit"]
EMBED = ["embed", "--dataset", "syn", "--encoder", "tiny-medclip-vit", "--workers", "0"]


def _write(p: Path, data: str | bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    (p.write_bytes if isinstance(data, bytes) else p.write_text)(data)
    return p


def _pred(i, pred="no acute findings .", ref="no acute findings ."):
    return {"id": str(i), "prediction": pred, "reference": ref}


def _preds(tmp: Path, rows: list | None = None, raw: bytes | None = None) -> str:
    data = raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows).encode()
    return str(_write(tmp / "preds.jsonl", data))


def _score(rows=None, raw=None, metrics="bleu,rouge_l", extra=()):
    def setup(tmp, ws):
        return ["score", _preds(tmp, rows, raw), "--metrics", metrics, "--out", str(tmp / "scores"), *extra]
    return setup


def _train(*extra, run="bad"):
    return lambda tmp, ws: TRAIN + ["--run", run, *extra]


def _config(text: str | bytes, *extra):
    def setup(tmp, ws):
        return TRAIN + ["--run", "bad", "--config", str(_write(tmp / "c.yaml", text)), *extra]
    return setup


def _kept(*rel: str):
    def check(r, tmp, ws):
        for x in rel:
            assert (tmp / x).exists(), f"{x} was deleted"
    return check


def _synthetic(root: str, n: int = 5, name: str = "x", *extra):
    return lambda tmp, ws: ["prepare", "synthetic", "--n", str(n), "--name", name, "--root", str(tmp / root), *extra]


# --- 1. deleting what is not ours ------------------------------------------------------------------
def _foreign_marker(tmp, ws):
    _write(tmp / "mine" / "synthetic.json", '{"n": 5, "seed": 0}\n')
    _write(tmp / "mine" / "thesis.txt", "keep me")
    return _synthetic("mine")(tmp, ws)


def _user_file_in_ours(tmp, ws):
    _write(tmp / "data" / "notes.txt", "mine")
    return _synthetic("data")(tmp, ws)


def _root_is_file(tmp, ws):
    _write(tmp / "f", "x")
    return _synthetic("f")(tmp, ws)


def _foreign_partial(tmp, ws):
    _write(tmp / "new.partial" / "draft.txt", "mine")
    return _synthetic("new")(tmp, ws)


def _regenerated(r, tmp, ws):
    doc = json.loads((tmp / "data" / "synthetic.json").read_text())
    assert doc["params"]["n"] == 6 and doc["written_by"] == "cxrgen"
    assert "ground_truth.jsonl" in doc["files"] and all((tmp / "data" / f).is_file() for f in doc["files"])
    n = len((ws / "prepare/x/records.jsonl").read_text().splitlines())
    assert 1 <= n <= 6


# --- 2. unbounded resources ----------------------------------------------------------------------------
def _workers_capped(r, tmp, ws):
    from cxrgen.utils.resources import available_cpus
    assert f"{available_cpus()} decode worker(s)" in r.out, r.out
    log = r.out + r.err  # the log handler prints through rich's console
    assert f"workers=100000 is more than the {available_cpus()} CPU(s) available to this process" in " ".join(log.split()), log


def _cap_at_affinity(tmp, ws):
    from unittest import mock

    from cxrgen.config.base import load_config
    from cxrgen.config.schema import EmbedConfig, PrepareConfig, TrainConfig

    def fn():
        with mock.patch("os.sched_getaffinity", return_value={0, 1, 2}):
            return [load_config(c, overrides=["workers=100000"]).workers for c in (EmbedConfig, TrainConfig, PrepareConfig)] \
                + [load_config(EmbedConfig, overrides=["workers=2"]).workers]
    return ["python", fn]


def _check_cap(out, tmp, ws):
    assert out == [3, 3, 3, 2], out


# --- 3. building on known-bad upstream files ---------------------------------------------------------
UPSTREAM_FILES = {  # kind -> (artifact, file inside it)
    "records.jsonl": ("prepare/syn", "records.jsonl"),
    "features.h5": ("embed/syn/tiny-medclip-vit", "features.h5"),
    "trainable.safetensors": ("train/r", "final/trainable.safetensors"),
    "preds.jsonl": ("generate/r/test", "preds.jsonl"),
    "scores.json": ("score/r/test", "scores.json"),
    "per_sample.jsonl": ("score/r/test", "per_sample.jsonl"),
}


def _new_images(tmp, ws):  # generate --images: new-image generation reads the run's weights and the embed manifest
    return ["generate", "--run", "r", "--images", str(sorted((tmp / "data").rglob("*.jpg"))[0]), "--max-new-tokens", "4"]


GENERATE = ["generate", "--run", "r", "--split", "test", "--force"]
REPORT = ["report", "--run", "r", "--split", "test", "--force"]
# kind -> the stages that read it, as commands or setups (--force: even a forced rebuild refuses)
DOWNSTREAM: dict[str, dict[str, list | Callable]] = {
    "records.jsonl": {"embed": EMBED + ["--force"], "train": TRAIN + ["--run", "r2", "optim.max_steps=1"],
                      "generate": GENERATE, "generate --images": _new_images,
                      "score": ["score", "--run", "r", "--split", "test", "--metrics", "bleu,ce", "--force"],
                      "report": REPORT, "audit": ["audit", "--dataset", "syn"]},
    "features.h5": {"train": TRAIN + ["--run", "r2", "optim.max_steps=1"], "generate": GENERATE,
                    "generate --images": _new_images},
    "trainable.safetensors": {"generate": GENERATE, "generate --images": _new_images},
    "preds.jsonl": {"score": ["score", "--run", "r", "--split", "test", "--metrics", "bleu", "--force"],
                    "report": REPORT},
    "scores.json": {"report": REPORT},
    "per_sample.jsonl": {"report": REPORT},
}
FIX = {"prepare": "cxrgen prepare", "embed": "cxrgen embed", "train": "cxrgen train", "generate": "cxrgen generate",
       "score": "cxrgen score"}


def _listing(ws: Path) -> dict[str, list[int]]:
    return {str(p.relative_to(ws)): [p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(ws.rglob("*"))}


def _edit_upstream(kind: str, same_size: bool, args: list | Callable):
    def setup(tmp, ws):
        artifact, rel = UPSTREAM_FILES[kind]
        p = ws / artifact / rel
        st = p.stat()
        data = bytearray(p.read_bytes())
        if same_size:  # one byte changed, size and mtime kept: only the content hash can tell
            data[len(data) // 2] ^= 0x55
            p.write_bytes(bytes(data))
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            p.write_bytes(bytes(data) + b"\n")
        _write(tmp / "listing.json", json.dumps(_listing(ws)))
        return args(tmp, ws) if callable(args) else list(args)
    return setup


def _nothing_written(r, tmp, ws):
    """Refused before any work: no file in the workspace created, changed or removed (no lock, no .partial,
    no report page), and nothing printed on stdout (generate --images prints its reports there)."""
    assert _listing(ws) == json.loads((tmp / "listing.json").read_text()), "the refused stage wrote to the workspace"
    assert r.out == "", r.out


def _upstream_cases() -> list[Case]:
    out = []
    for kind, stages in DOWNSTREAM.items():
        artifact, rel = UPSTREAM_FILES[kind]
        for same in (True, False):
            for stage, args in stages.items():
                how = "same size and mtime" if same else "size changed"
                out.append(Case(
                    f"{kind} edited by hand ({how}), then {stage}", stage.split()[0], _edit_upstream(kind, same, args),
                    rf"{re.escape(artifact)} is corrupt: {re.escape(rel)} was modified .*; nothing was built from it; "
                    rf"run `{FIX[artifact.split('/')[0]]}.* --force` to rebuild it",
                    "refused, naming the file and the command that rebuilds it; nothing written", code=4,
                    check=_nothing_written, corrupt=(artifact,)))
    return out


def _hash_threshold(tmp, ws):
    from unittest import mock

    from cxrgen.workspace import manifest as mf

    def fn():
        folder = ws / "embed/syn/tiny-medclip-vit"
        m = mf.read_manifest(folder)
        _edit_upstream("features.h5", True, [])(tmp, ws)
        with mock.patch.object(mf, "HASH_ALWAYS_BYTES", 0):  # as if features.h5 were a 100 GB cache
            return mf.check_outputs(folder, m), mf.check_outputs(folder, m, verify=True)
    return ["python", fn]


def _check_hash_threshold(out, tmp, ws):
    cheap, verified = out
    assert cheap is None and verified == "features.h5 was modified (content differs from the manifest's sha256)", out


def _verify_flag(tmp, ws):
    from unittest import mock

    from cxrgen.workspace import manifest as mf
    from tests.conftest import run_cli

    def fn():
        _edit_upstream("features.h5", True, [])(tmp, ws)
        args = ["generate", "--run", "r", "--split", "test", "--max-new-tokens", "8"]
        with mock.patch.object(mf, "HASH_ALWAYS_BYTES", 0):  # as if features.h5 were a 100 GB cache
            cheap, verified = run_cli(*args, workspace=ws), run_cli("--verify", *args, workspace=ws)
        return verified.code, cheap, verified
    return ["python", fn]


def _check_verify_flag(out, tmp, ws):
    _, cheap, verified = out
    # without --verify the manifest check passes (size and mtime match); the reader may still trip on the
    # flipped byte, but then with one line naming the file
    assert "is corrupt" not in cheap.err and "Traceback" not in cheap.err, cheap.err
    assert cheap.code == 0 or (cheap.code == 3 and "features.h5: unreadable" in cheap.err), cheap.err
    assert verified.code == 4 and "embed/syn/tiny-medclip-vit is corrupt: features.h5 was modified (content differs" \
        in verified.err, verified.err


def _random_weights_status(tmp, ws):
    def fn():
        from cxrgen.config.schema import EmbedConfig
        from cxrgen.workspace.artifact import ArtifactBuild
        from cxrgen.workspace.layout import Workspace
        from cxrgen.workspace.status import artifact_status
        w = Workspace(tmp / "w5")
        b = ArtifactBuild(w, "embed", ("syn", "medclip-vit"), EmbedConfig(encoder="medclip-vit"), [])
        with b:
            _write(b.work_dir / "features.h5", b"x")
            b.commit(["features.h5"], extra={"encoder": {"encoder": "medclip-vit", "weights": "random-init"}})
        return artifact_status(w, "embed", ("syn", "medclip-vit"))
    return ["python", fn]


def _says_random(out, tmp, ws):
    assert out.state == "up-to-date" and out.reason == "features from random weights (--allow-random-weights)", out


# --- 4. locks that outlive their cause ---------------------------------------------------------------
def _old_lock(content: bytes, age: float = 3600):
    def setup(tmp, ws):
        lock = _write(ws / "prepare" / ".syn.lock", content)
        old = time.time() - age
        os.utime(lock, (old, old))  # held by no process (no flock)
        return ["prepare", "synthetic", "--n", "24", "--name", "syn", "--root", str(tmp / "data"), "--force"]
    return setup


def _lock_gone(r, tmp, ws):
    assert not (ws / "prepare" / ".syn.lock").exists()
    assert (ws / "prepare/syn/manifest.json").is_file()


def _fresh_lock(content: bytes):
    def setup(tmp, ws):
        _write(ws / "train" / ".r.lock", content)
        return TRAIN + ["--run", "r", "optim.max_steps=2", "optim.batch_size=4", "--force"]
    return setup


def _lock_disk_full(tmp, ws):
    from unittest import mock

    from cxrgen.workspace.lock import ArtifactLock

    def fn():
        with mock.patch("cxrgen.workspace.lock.os.write", side_effect=OSError(errno.ENOSPC, "No space left on device")):
            ArtifactLock(tmp / "x.lock", "thing").acquire()
    return ["python", fn]


def _no_lock_left(e, tmp, ws):
    assert not (tmp / "x.lock").exists()


def _empty_lock_held(tmp, ws):
    import fcntl

    from cxrgen.workspace.lock import ArtifactLock
    lock = _write(tmp / "y.lock", b"")
    old = time.time() - 3600
    os.utime(lock, (old, old))

    def fn():
        fd = os.open(lock, os.O_RDONLY)  # a live process (this one, by another open file) holds it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            ArtifactLock(lock, "thing").acquire()
        finally:
            os.close(fd)
    return ["python", fn]


def _reused_pid_lock(tmp, ws):
    import socket
    lock = _write(ws / "prepare" / ".syn.lock", json.dumps({"host": socket.gethostname(), "pid": os.getppid()}))
    old = time.time() - 3600
    os.utime(lock, (old, old))  # a live process (our parent) that holds no flock: the pid was reused
    return ["prepare", "synthetic", "--n", "24", "--name", "syn", "--root", str(tmp / "data"), "--force"]


# --- 5. garbage committed as up to date --------------------------------------------------------------
def _nan_checkpoint(tmp, ws):
    def fn():
        from safetensors.torch import load_file, save_file

        from cxrgen.models.checkpoint import WEIGHTS, load_tensors
        ck = tmp / "nan"
        shutil.copytree(ws / "train/r/final", ck)
        t = load_file(ck / WEIGHTS)
        t[sorted(t)[0]][...] = float("nan")
        save_file(t, ck / WEIGHTS, metadata={"format": "pt"})
        load_tensors(ck)
    return ["python", fn]


def _diverging(tmp, ws):
    return TRAIN + ["--run", "div", "optim.lr=1e30", "optim.max_steps=6", "optim.batch_size=4", "save_every=1",
                    "optim.max_grad_norm=0", "keep_last=10"]


def _not_committed(r, tmp, ws):
    assert not (ws / "train/div").exists() and (ws / "train/div.partial/checkpoints").is_dir()


def _resume_other(tmp, ws):
    from tests.conftest import run_cli
    r = run_cli(*TRAIN, "--run", "src", "optim.max_steps=2", "optim.batch_size=4", "save_every=1", "keep_last=5",
                workspace=ws)
    assert r.code == 0, r.err
    return TRAIN + ["--run", "other", "optim.max_steps=2", "optim.batch_size=4", "--resume-from-other",
                    "--resume", str(ws / "train/src/checkpoints/step-000001")]


def _resume_recorded(r, tmp, ws):
    m = json.loads((ws / "train/other/manifest.json").read_text())
    (src,) = [i for i in m["inputs"] if i.get("name", "").startswith("resume:")]
    assert src["name"] == f"resume:{(ws / 'train/src/checkpoints/step-000001').resolve()}"
    assert src["run"] == "src" and src["step"] == 1 and len(src["sha256"]) == 64
    assert m["counts"]["steps"] == 2


# --- tracebacks where one line belongs ---------------------------------------------------------------
_HELD: list = []


def _concurrent_prepare(tmp, ws):
    from cxrgen.workspace.lock import ArtifactLock
    _HELD.append(ArtifactLock(tmp / ".fresh.lock", f"synthetic data set {tmp / 'fresh'}").acquire())
    return _synthetic("fresh")(tmp, ws)


def _released(r, tmp, ws):
    while _HELD:
        _HELD.pop().release()
    assert not (tmp / "fresh.partial").exists() and not (tmp / "fresh").exists()


def _alias_bomb() -> str:
    levels = ["&l0 [" + ", ".join(["x"] * 9) + "]"]
    levels += [f"&l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, 9)]
    return "lora:\n  targets: [" + ", ".join(levels) + "]\n"


def _records_labels(value: str, raw_labels: bool = False):
    def setup(tmp, ws):
        labels = value if raw_labels else '{"Cardiomegaly": %s}' % value
        recs = _write(tmp / "records.jsonl", "".join('{"id": "%d", "labels": %s}\n' % (i, labels) for i in range(3)))
        return ["score", _preds(tmp, [_pred(i) for i in range(3)]), "--records", str(recs), "--metrics", "bleu,ce",
                "--out", str(tmp / "scores")]
    return setup


def _manifest_outputs_list(tmp, ws):
    p = ws / "prepare/syn/manifest.json"
    doc = json.loads(p.read_text())
    doc["outputs"] = []
    p.write_text(json.dumps(doc))
    return EMBED + ["--force"]


def _safetensors_disk_full(tmp, ws):
    def fn():
        from unittest import mock

        import torch
        from safetensors import SafetensorError

        from cxrgen.models.checkpoint import save_safetensors
        err = SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                              'message: "No space left on device" })')
        (tmp / "ck").mkdir()
        with mock.patch("safetensors.torch.save_file", side_effect=err):
            save_safetensors({"w": torch.zeros(2)}, tmp / "ck" / "trainable.safetensors", {"format": "pt"})
    return ["python", fn]


def _no_partial(*rel: str):
    def check(r, tmp, ws):
        for x in rel:
            assert not (ws / x).exists(), f"{x} was left behind"
    return check


# --- minor ----------------------------------------------------------------------------------------------
def _half_swapped(finished: bool):
    def setup(tmp, ws):
        d = ws / "prepare"
        old = d / ".syn.old-999999-1"
        os.replace(d / "syn", old)  # killed after the first rename of a commit
        shutil.copytree(old, d / "syn.partial")
        if not finished:
            (d / "syn.partial/manifest.json").unlink()
            _write(d / "syn.partial/progress.json", "{}")
        return EMBED
    return setup


def _swap_recovered(finished: bool):
    def check(r, tmp, ws):
        d = ws / "prepare"
        assert (d / "syn/manifest.json").is_file() and not list(d.glob(".syn.old-*"))
        assert (d / "syn.partial").exists() == (not finished)
        from tests.faults.harness import states
        assert states(ws)["prepare/syn"] == "up-to-date"
    return check


def _temp_file_in_commit(tmp, ws):
    def fn():
        from cxrgen.config.schema import ScoreConfig
        from cxrgen.workspace.artifact import ArtifactBuild
        from cxrgen.workspace.layout import Workspace
        b = ArtifactBuild(Workspace(tmp / "w2"), "score", ("r", "test"), ScoreConfig(), [])
        with b:
            _write(b.work_dir / "scores.json", "{}")
            _write(b.work_dir / ".stats.json.k1ll3d.tmp", "half")  # left by a kill inside atomic_write
            b.commit(["scores.json"])
        return sorted(p.name for p in b.final_dir.iterdir())
    return ["python", fn]


def _deterministic_weights(tmp, ws):
    def fn():
        import torch

        from cxrgen.models.checkpoint import save_safetensors
        out = []
        for i in range(8):
            p = tmp / f"w{i}.safetensors"
            save_safetensors({"b": torch.ones(2), "a": torch.zeros(3)}, p, {"format": "pt", "mode": "prefix", "x": "1"})
            out.append(p.read_bytes())
        return out
    return ["python", fn]


def _moved_workspace(tmp, ws):
    def fn():
        from tests.conftest import run_cli
        from tests.faults.harness import manifest, states
        args = ("prepare", "synthetic", "--n", "5", "--name", "mv")  # data in the workspace: w6/data/mv
        assert run_cli(*args, workspace=tmp / "w6").code == 0
        before = manifest(tmp / "w6", "prepare", "mv")["fingerprint"]
        os.replace(tmp / "w6", tmp / "w7")
        st = run_cli("status", "--json", workspace=tmp / "w7")
        again = run_cli(*args, workspace=tmp / "w7")  # the command status names
        return json.loads(st.out), again, before, manifest(tmp / "w7", "prepare", "mv"), states(tmp / "w7")
    return ["python", fn]


def _status_fix_works(out, tmp, ws):
    doc, again, before, after, st = out
    a = {x["name"]: x for x in doc["artifacts"]}["prepare/mv"]
    assert a["state"] == "stale" and a["reason"].endswith("is gone (moved?)") and a["fix"].startswith("cxrgen prepare"), a
    assert again.code == 0 and "up to date" not in again.out + again.err, again.out + again.err  # was: "up to date"
    assert after["fingerprint"] == before and st == {"prepare/mv": "up-to-date"}, (after["fingerprint"], before, st)
    assert all(str(tmp / "w7") in i["path"] for i in after["inputs"] if i["kind"] in ("file", "dir"))


def _moved_data_root(tmp, ws):
    def fn():
        import shlex

        from tests.conftest import run_cli
        from tests.faults.harness import manifest, states
        w = tmp / "w8"
        assert run_cli("prepare", "synthetic", "--n", "5", "--name", "mv", "--root", tmp / "d8", workspace=w).code == 0
        assert run_cli("embed", "--dataset", "mv", "--encoder", "tiny-medclip-vit", "--workers", "0", workspace=w).code == 0
        before, emb = manifest(w, "prepare", "mv"), manifest(w, "embed", "mv", "tiny-medclip-vit")
        os.replace(tmp / "d8", tmp / "d9")  # the data set moves, the workspace stays
        doc = json.loads(run_cli("status", "--json", workspace=w).out)
        fix = {x["name"]: x for x in doc["artifacts"]}["prepare/mv"]
        argv = shlex.split(fix["fix"].replace("NEW_ROOT", shlex.quote(str(tmp / "d9"))))
        again = run_cli(*argv[1:], workspace=w)  # the command status names, with the new root filled in
        return (fix, argv, again, before, emb, manifest(w, "prepare", "mv"),
                manifest(w, "embed", "mv", "tiny-medclip-vit"), states(w))
    return ["python", fn]


def _root_fix_works(out, tmp, ws):
    fix, argv, again, before, emb, after, emb_after, st = out
    assert fix["state"] == "stale" and fix["reason"] == (f"input {tmp / 'd8' / 'mimic-cxr-2.0.0-metadata.csv.gz'} is gone "
                                                         "(moved?); give its new place as --root"), fix
    assert fix["fix"] == f"cxrgen prepare synthetic --config {tmp / 'w8/prepare/mv/config.yaml'} --root NEW_ROOT", fix
    assert argv[-2:] == ["--root", str(tmp / "d9")], argv
    assert again.code == 0 and "up to date" not in again.out + again.err, again.out + again.err
    assert after["fingerprint"] == before["fingerprint"] and after["extra"]["root"] == str(tmp / "d9"), after
    assert "root" not in after["config"] and "root" not in before["config"], after["config"]  # not in the fingerprint
    assert all(str(tmp / "d9") in i["path"] for i in after["inputs"] if i["kind"] in ("file", "dir")), after["inputs"]
    assert emb_after == emb and st == {"prepare/mv": "up-to-date", "embed/mv/tiny-medclip-vit": "up-to-date"}, st
    assert not (tmp / "d8").exists()  # nothing generated again at the old place


def _ctrl_c(tmp, ws):
    def fn():
        import signal
        import subprocess
        import sys
        p = subprocess.Popen([sys.executable, "-m", "cxrgen", "--workspace", str(tmp / "w3"), "prepare", "synthetic",
                              "--n", "150", "--name", "big", "--root", str(tmp / "big")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 120
        while not (tmp / "big.partial").exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        return p.returncode, err
    return ["python", fn]


def _one_line_interrupt(out, tmp, ws):
    code, err = out
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines[-1] == "interrupted; re-run the same command to resume", err
    assert "Traceback" not in err, err


def _file_modes(tmp, ws):
    def fn():
        from cxrgen.utils.io import file_mode
        modes = {p.name: p.stat().st_mode & 0o777 for p in (ws / "prepare/syn").iterdir()}
        return modes, file_mode()
    return ["python", fn]


def _same_modes(out, tmp, ws):
    modes, want = out
    assert set(modes) >= {"manifest.json", "records.jsonl", "stats.json", "config.yaml"}
    assert set(modes.values()) == {want}, modes


HOSTILE = [
    # 1. deleting what is not ours
    Case("--root holding someone else's synthetic.json", "prepare", _foreign_marker,
         r"mine: not empty and not written by cxrgen \(no valid synthetic\.json\); nothing was deleted",
         "error naming the folder; nothing deleted", check=_kept("mine/thesis.txt", "mine/synthetic.json"), code=3),
    Case("user file added to a cxrgen synthetic folder", "prepare", _user_file_in_ours,
         r"data: holds 1 file\(s\) cxrgen did not write \(e\.g\. 'notes\.txt'\); nothing was deleted",
         "error naming the folder and the file; nothing deleted", check=_kept("data/notes.txt", "data/synthetic.json"), code=3),
    Case("--root is a file", "prepare", _root_is_file, r"f: exists and is not a folder cxrgen made",
         "error naming it", check=_kept("f"), code=3),
    Case("someone else's <root>.partial folder", "prepare", _foreign_partial,
         r"new\.partial: exists and was not started by cxrgen; nothing was deleted", "error naming it; kept",
         check=_kept("new.partial/draft.txt"), code=3),
    Case("cxrgen synthetic folder regenerated with other settings", "prepare", _synthetic("data", 6), "ok",
         "recovered: replaced, since its marker lists every file in it", code=0, check=_regenerated),
    # 2. unbounded resources
    Case("embed --workers 100000", "embed", lambda tmp, ws: EMBED[:-2] + ["--workers", "100000", "--dry-run"], "ok",
         "accepted: capped at the CPUs available to the process, with a warning", code=0, check=_workers_capped),
    Case("workers above the affinity mask (embed, train, prepare)", "embed", _cap_at_affinity, "ok",
         "capped at len(os.sched_getaffinity(0)); no process started", check=_check_cap, code=0),
    Case("a prediction longer than --max-report-chars", "score",
         _score([_pred(0), _pred(1, pred="word " * 1000)], extra=("--max-report-chars", "1000")),
         r"preds\.jsonl line 2 \(id '1'\): prediction is 5000 characters, over the limit of 1000",
         "error naming line, id and limit (was: ROUGE-L took 7 GB)", code=3),
    Case("a 2 MB line in preds.jsonl", "score",
         _score(raw=(json.dumps(_pred(0, pred="a" * 2_000_000)) + "\n").encode()),
         r"preds\.jsonl line 1: longer than 1265536 bytes", "error; the line is not read past the limit", code=3),
    Case("embed --batch-size 10000000", "embed", lambda tmp, ws: EMBED + ["--batch-size", "10000000"],
         r"batch_size=10000000 must be in \[1, 65536\]", "error naming the key and the range", code=2),
    Case("score --bootstrap 10**9", "score", _score([_pred(i) for i in range(3)], extra=("--bootstrap", "1000000000")),
         r"bootstrap=1000000000 must be ≤ 1000000", "error naming the key and the range", code=2),
    Case("generate --beams 1000", "generate", lambda tmp, ws: ["generate", "--run", "r", "--beams", "1000"],
         r"beams=1000 must be ≤ 64", "error naming the key and the range", code=2),
    # 3. building on known-bad upstream files (the full matrix is UPSTREAM below)
    Case("same-size edit of a large file: hashed only with --verify", "status", _hash_threshold, "ok",
         "size+mtime always, sha256 for files up to 64 MB or with --verify", check=_check_hash_threshold, code=0),
    Case("cxrgen --verify hashes large upstream files", "generate", _verify_flag, "ok",
         "without --verify a large file is checked by size+mtime only; with it the same-size edit is refused", check=_check_verify_flag, code=4),
    # 4. locks
    Case("empty lock file left by a full disk", "prepare", _old_lock(b""), "ok",
         "recovered: an empty lock held by no process and older than 10 s is taken over", code=0, check=_lock_gone),
    Case("2-hour-old lock file with garbage content, held by no process", "prepare", _old_lock(b"\x00garbage{", 7200),
         "ok", "recovered: taken over (unparsable content does not make a lock permanent)", code=0, check=_lock_gone),
    Case("old lock naming a live pid that holds no lock (pid reused)", "prepare", _reused_pid_lock, "ok",
         "recovered: taken over", code=0, check=_lock_gone),
    Case("fresh lock file with garbage content", "train", _fresh_lock(b"\x00garbage"),
         r"train/r is being written by pid \? on \? \(.*\.r\.lock\); wait for it", "one-line error (was: traceback)", code=75),
    Case("lock file holding a JSON list", "train", _fresh_lock(b"[1, 2]"),
         r"train/r is being written by pid \? on \?", "one-line error (was: traceback)", code=75),
    Case("disk full while writing a lock", "train", _lock_disk_full, r"x\.lock: cannot write \(the disk is full\)",
         "error; no empty lock left behind", check=_no_lock_left, code=6),
    Case("empty old lock that a live process holds", "train", _empty_lock_held,
         r"thing is being written by pid \? on \?", "respected (flock held)", code=75),
    # 5. garbage committed as up to date
    Case("optim.lr=inf", "train", _train("optim.lr=inf"), r"optim\.lr='inf' is not a finite number",
         "error at the config boundary", code=2),
    Case("optim.max_grad_norm=nan", "train", _train("optim.max_grad_norm=nan"),
         r"optim\.max_grad_norm='nan' is not a finite number", "error (was: clipping silently off)", code=2),
    Case("lr: .inf in a YAML config", "train", _config("optim:\n  lr: .inf\n"), r"optim\.lr=inf is not a finite number",
         "error naming the file's key", code=2),
    Case("loss becomes non-finite during training", "train", _diverging,
         r"train/div: loss is not finite \(nan or inf\) at step \d+; training stopped and nothing was committed; "
         r"the last good checkpoint .*step-\d{6} is kept",
         "error naming the step; last good checkpoint kept, nothing committed", check=_not_committed, code=2),
    Case("checkpoint with NaN weights", "generate", _nan_checkpoint, r"tensor '.*' holds NaN or inf values",
         "refused when loaded (was: empty predictions, exit 0)", code=3),
    Case("--resume from another run's checkpoint", "train",
         lambda tmp, ws: TRAIN + ["--run", "other", "--resume", str(ws / "train/r/final")],
         r"--resume .*train/r/final: a checkpoint of run 'r', not 'other'; add --resume-from-other",
         "refused unless --resume-from-other", code=3),
    Case("--resume-from-other records the source", "train", _resume_other, "ok",
         "accepted; the manifest lists the checkpoint (path, run, step, sha256) as an input", code=0,
         check=_resume_recorded),
    # tracebacks where one line belongs
    Case("two prepare synthetic at once", "prepare", _concurrent_prepare,
         r"synthetic data set .*fresh is being written by pid \d+ on", "second run: one-line error, nothing left",
         check=_released, code=75),
    Case("workspace path with a non-UTF-8 byte", "status",
         lambda tmp, ws: ["--workspace", os.fsdecode(os.fsencode(tmp) + b"/ws\xff"), "status"],
         r"the workspace path is not valid UTF-8", "error naming the path", code=2),
    Case("workspace that is a file", "status", lambda tmp, ws: ["--workspace", str(_write(tmp / "wsfile", "x")), "status"],
         r"wsfile: the workspace is a file, not a folder", "error (was: 'no artifacts')", code=2),
    Case("workspace.json with an unknown schema_version", "status",
         lambda tmp, ws: (_write(ws / "workspace.json", '{"schema_version": 99}'), ["status"])[1],
         r"workspace schema_version 99, this cxrgen reads 1", "refused, naming the version expected", code=2),
    Case("deeply nested JSON in a prediction", "score",
         _score(raw=b'{"id": "1", "prediction": "a", "reference": "a", "extra": ' + b"[" * 100000 + b"]" * 100000 + b"}\n"),
         r"preds\.jsonl line 1: JSON nested too deeply", "error with the line number", code=3),
    Case("every reference empty", "score", _score([_pred(i, ref="") for i in range(3)], metrics="cider"),
         r"every reference is empty \(3 lines\)", "error (was: CIDEr traceback)", code=3),
    Case("lone surrogate in a prediction", "score",
         _score(raw=b'{"id": "1", "prediction": "bad \\ud800 text", "reference": "a"}\n', metrics="bleu"),
         r"line 1 \(id '1'\): prediction holds a lone surrogate", "error (was: METEOR 'a bug, please report it')", code=3),
    Case("YAML alias bomb under a valid key", "train", _config(_alias_bomb()),
         r"c\.yaml: expands to more than 100000 values through YAML aliases", "error at once (was: MemoryError after 36 s)", code=2),
    Case("duplicate keys in a YAML config", "train", _config("optim:\n  lr: 1.0e-3\n  lr: 1.0e-2\n"),
         r"c\.yaml: duplicate key 'lr' on lines 2 and 3", "error naming both lines", code=2),
    Case("config file with a non-UTF-8 byte", "train", _config(b"optim:\n  lr: 1.0e-3  # caf\xe9\n"),
         r"c\.yaml line 2: not valid UTF-8", "error naming the line", code=2),
    Case("config file is a folder", "train", lambda tmp, ws: TRAIN + ["--run", "bad", "--config", str(tmp)],
         r": is a folder; give a YAML config file", "error", code=2),
    Case("config file is /dev/zero", "train", lambda tmp, ws: TRAIN + ["--run", "bad", "--config", "/dev/zero"],
         r"/dev/zero: not a regular file", "error (not read)", code=2),
    Case("run name of 250 characters", "train", lambda tmp, ws: TRAIN + ["--run", "a" * 250],
         r"is 250 characters long; use at most 128", "error (was: ENAMETOOLONG traceback)", code=2),
    Case("--device mps", "embed", lambda tmp, ws: EMBED + ["--device", "mps", "--dry-run"],
         r"--device 'mps': not a supported device; use auto, cpu, cuda or cuda:N", "error", code=2),
    Case("--device ''", "embed", lambda tmp, ws: EMBED + ["--device", "", "--dry-run"],
         r"--device '': not a supported device", "error", code=2),
    Case("--device CPU", "embed", lambda tmp, ws: EMBED + ["--device", "CPU", "--dry-run"], "ok",
         "accepted as cpu", code=0, check=lambda r, tmp, ws: None if "device cpu" in r.out else (_ for _ in ()).throw(
             AssertionError(r.out))),
    Case("train device=cuda:99", "train", _train("device=cuda:99", run="dev"),
         r"--device cuda:99: (CUDA is not available on this machine|this machine has \d+ CUDA device)",
         "error before any work folder", check=_no_partial("train/dev.partial"), code=2),
    Case("generate device=cuda:99", "generate",
         lambda tmp, ws: ["generate", "--run", "r", "--split", "val", "device=cuda:99"],
         r"--device cuda:99: (CUDA is not available on this machine|this machine has \d+ CUDA device)",
         "error before any work folder", check=_no_partial("generate/r/val.partial"), code=2),
    Case("--max-new-tokens beyond the model's context", "generate",
         lambda tmp, ws: ["generate", "--run", "r", "--split", "val", "--max-new-tokens", "100000"],
         r"--max-new-tokens 100000: with 10 input positions this exceeds the model's context of 512 tokens",
         "error naming the limit", check=_no_partial("generate/r/val.partial"), code=2),
    Case("--records label 'yes'", "score", _records_labels('"yes"'),
         r"records\.jsonl: record '0' label 'Cardiomegaly' is 'yes'; labels are 1, 0, -1 or null", "error naming record and label", code=3),
    Case("--records label [1]", "score", _records_labels("[1]"), r"record '0' label 'Cardiomegaly' is '\[1\]'", "error", code=3),
    Case("--records label 1e400", "score", _records_labels("1e400"), r"record '0' label 'Cardiomegaly' is 'inf'", "error", code=3),
    Case("--records label 2", "score", _records_labels("2"), r"record '0' label 'Cardiomegaly' is '2'",
         "error (was: accepted silently)", code=3),
    Case("--records labels not an object", "score", _records_labels("[1, 0]", raw_labels=True),
         r"records\.jsonl line 1: 'labels' must be an object", "error with the line number", code=3),
    Case("manifest whose outputs has the wrong type", "embed", _manifest_outputs_list,
         r"prepare/syn is corrupt \(.*'outputs' is a list, not a dict\); run `cxrgen prepare .* --force`",
         "error naming the fix", corrupt=("prepare/syn",), code=4),
    Case("prepare synthetic --n 1", "prepare", _synthetic("one", 1), r"n=1 must be in \[3, 1000000\]", "error", code=2),
    Case("safetensors write on a full disk", "train", _safetensors_disk_full,
         r"ck/trainable\.safetensors: cannot write \(the disk is full\)", "error naming the file (was: the cwd)", code=6),
    # minor
    Case("kill between the two renames of a commit (finished)", "prepare", _half_swapped(True), "ok",
         "recovered: the next run completes the swap", code=0, check=_swap_recovered(True)),
    Case("kill between the two renames of a commit (unfinished)", "prepare", _half_swapped(False), "ok",
         "recovered: the next run puts the previous artifact back", code=0, check=_swap_recovered(False)),
    Case("kill while a file was still a temp file", "score", _temp_file_in_commit, "ok",
         "recovered: temp files are never committed",
         check=lambda out, tmp, ws: None if out == ["config.yaml", "manifest.json", "scores.json"] else
         (_ for _ in ()).throw(AssertionError(out)), code=0),
    Case("identical weights saved twice", "train", _deterministic_weights, "ok",
         "same bytes (sorted safetensors header)",
         check=lambda out, tmp, ws: None if len(set(out)) == 1 else (_ for _ in ()).throw(AssertionError("differ")), code=0),
    Case("workspace moved", "status", _moved_workspace, "ok", "stale (moved?); the command status names records "
         "the new place (was: 'up to date'); the fingerprint, hence everything downstream, is unchanged",
         check=_status_fix_works, code=0),
    Case("data set moved (--root outside the workspace)", "status", _moved_data_root, "ok",
         "stale (moved?) naming `--root NEW_ROOT`; that command re-records the place with the same fingerprint, "
         "so embed stays up to date (was: root in the fingerprint, everything downstream stale)", check=_root_fix_works, code=0),
    Case("real encoder without --encoder-weights", "embed", lambda tmp, ws: EMBED[:2] + ["syn", "--encoder", "medclip-vit"],
         r"encoder 'medclip-vit' has no weights \(give --encoder-weights FILE\|DIR\).*--allow-random-weights",
         "refused unless --allow-random-weights (tiny-* excepted)", code=2),
    Case("status of features made with --allow-random-weights", "status", _random_weights_status, "ok",
         "up-to-date, and the reason says the weights were random", check=_says_random, code=0),
    Case("Ctrl-C", "prepare", _ctrl_c, "ok", "one line: interrupted; re-run the same command to resume (exit 130)",
         check=_one_line_interrupt, code=130),
    Case("file permissions of an artifact", "prepare", _file_modes, "ok", "every file 0666 minus the umask "
         "(was: atomic writes 0600)", check=_same_modes, code=0),
]

UPSTREAM = _upstream_cases()
