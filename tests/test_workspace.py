import json
import os
import subprocess
import sys

import pytest

from cxrgen.config.schema import EmbedConfig, PrepareConfig
from cxrgen.config.base import load_config
from cxrgen.errors import MissingArtifactError, WorkspaceLockedError
from cxrgen.workspace.artifact import ArtifactBuild, upstream
from cxrgen.workspace.layout import Workspace
from cxrgen.workspace.status import workspace_status


def _build_prepare(ws, cfg=None, content="a\n", force=False, raw=None):
    cfg = cfg or PrepareConfig()
    inputs = [raw] if raw else []
    b = ArtifactBuild(ws, "prepare", ("synth",), cfg, inputs, force=force)
    if (m := b.up_to_date()):
        return m, False
    with b:
        (b.work_dir / "records.jsonl").write_text(content)
        return b.commit(["records.jsonl"], counts={"records": 1}), True


def _build_embed(ws, cfg=None):
    entry, _ = upstream(ws, "prepare", "synth")
    b = ArtifactBuild(ws, "embed", ("synth", "enc"), cfg or EmbedConfig(), [entry])
    if (m := b.up_to_date()):
        return m, False
    with b:
        (b.work_dir / "features.h5").write_bytes(b"x")
        return b.commit(["features.h5"]), True


def _states(ws):
    return {s.name: (s.state, s.reason) for s in workspace_status(ws)}


def test_manifest_written_last_and_reused(tmp_path):
    ws = Workspace(tmp_path)
    m, built = _build_prepare(ws)
    assert built and (tmp_path / "prepare/synth/manifest.json").exists()
    assert not (tmp_path / "prepare/synth.partial").exists()
    data = json.loads((tmp_path / "prepare/synth/manifest.json").read_text())
    assert data["outputs"]["records.jsonl"]["size"] == 2 and data["stage"] == "prepare"
    assert (tmp_path / "prepare/synth/config.yaml").read_text().startswith("dataset: synthetic")
    m2, built2 = _build_prepare(ws)
    assert not built2 and m2.fingerprint == m.fingerprint
    _, built3 = _build_prepare(ws, force=True)
    assert built3


def test_runtime_options_keep_fingerprint(tmp_path):
    ws = Workspace(tmp_path)
    _build_prepare(ws)
    _build_embed(ws)
    _, rebuilt = _build_embed(ws, load_config(EmbedConfig, overrides=["batch_size=3", "workers=0"]))
    assert not rebuilt
    _, rebuilt = _build_embed(ws, load_config(EmbedConfig, overrides=["dtype=float32"]))
    assert rebuilt


def test_status_vocabulary(tmp_path):
    ws = Workspace(tmp_path)
    _build_prepare(ws)
    _build_embed(ws)
    assert _states(ws) == {"prepare/synth": ("up-to-date", ""), "embed/synth/enc": ("up-to-date", "")}
    # upstream rebuilt with another config → downstream stale, naming the changed input
    _build_prepare(ws, load_config(PrepareConfig, overrides=["seed=1"]))
    assert _states(ws)["embed/synth/enc"] == ("stale", "upstream prepare/synth changed")
    # an interrupted build → partial
    (tmp_path / "train/run1.partial").mkdir(parents=True)
    # a folder without manifest → partial; a modified output → corrupt
    (tmp_path / "generate/run1/test").mkdir(parents=True)
    (tmp_path / "prepare/synth/records.jsonl").write_text("changed size\n")
    st = _states(ws)
    assert st["train/run1"][0] == "partial"
    assert st["generate/run1/test"] == ("partial", "no manifest.json (never finished)")
    assert st["prepare/synth"] == ("corrupt", "records.jsonl was modified (size 13, manifest says 2)")
    (tmp_path / "prepare/synth/manifest.json").write_text("{not json")
    assert _states(ws)["prepare/synth"][0] == "corrupt"


def test_raw_input_change_makes_stale(tmp_path):
    from cxrgen.workspace.hashing import raw_input
    src = tmp_path / "reports.csv"
    src.write_text("x\n")
    ws = Workspace(tmp_path / "ws")
    _build_prepare(ws, raw=raw_input(src))
    assert _states(ws)["prepare/synth"][0] == "up-to-date"
    src.write_text("y\n")
    os.utime(src, ns=(1, 1))
    assert _states(ws)["prepare/synth"] == ("stale", f"input {src.resolve()} changed")


def test_missing_upstream_names_fix_command(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(MissingArtifactError, match=r"embed/synth/enc is missing .*run `cxrgen embed --dataset synth --encoder enc` first"):
        upstream(ws, "embed", "synth", "enc")


def test_failed_rebuild_keeps_previous_artifact(tmp_path):
    ws = Workspace(tmp_path)
    m, _ = _build_prepare(ws, content="good\n")
    b = ArtifactBuild(ws, "prepare", ("synth",), load_config(PrepareConfig, overrides=["seed=5"]), [])
    with pytest.raises(RuntimeError):
        with b:
            (b.work_dir / "records.jsonl").write_text("half")
            raise RuntimeError("disk full")
    assert (tmp_path / "prepare/synth/records.jsonl").read_text() == "good\n"
    assert _states(ws)["prepare/synth"] == ("up-to-date", "")


def test_lock_refuses_second_writer_and_takes_over_dead_one(tmp_path):
    ws = Workspace(tmp_path)
    b1 = ArtifactBuild(ws, "prepare", ("synth",), PrepareConfig(), [])
    b2 = ArtifactBuild(ws, "prepare", ("synth",), PrepareConfig(), [])
    with b1:
        with pytest.raises(WorkspaceLockedError, match=r"prepare/synth is being written by pid \d+"):
            b2.__enter__()
    # a lock left by a process that died (kill -9) on this host is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / "prepare/.synth.lock"
    import socket
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    with b2:
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_resume_keeps_work_dir_only_for_same_fingerprint(tmp_path):
    ws = Workspace(tmp_path)
    b = ArtifactBuild(ws, "prepare", ("synth",), PrepareConfig(), [])
    with b:
        (b.work_dir / "shard-0").write_text("done")
    b = ArtifactBuild(ws, "prepare", ("synth",), PrepareConfig(), [])
    with b:
        assert b.resumed and (b.work_dir / "shard-0").exists()
    b = ArtifactBuild(ws, "prepare", ("synth",), load_config(PrepareConfig, overrides=["seed=9"]), [])
    with b:
        assert not b.resumed and not (b.work_dir / "shard-0").exists()


def test_a_rebuild_says_which_setting_or_upstream_changed(tmp_path, caplog):
    import logging
    ws = Workspace(tmp_path)
    _build_prepare(ws)
    _build_embed(ws)
    with caplog.at_level(logging.INFO, logger="cxrgen"):
        _, rebuilt = _build_embed(ws, load_config(EmbedConfig, overrides=["dtype=float32"]))
    assert rebuilt and "rebuilding embed/synth/enc: dtype 'float16' → 'float32'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cxrgen"):
        _build_prepare(ws, load_config(PrepareConfig, overrides=["seed=5"]), content="b\n")
        _, rebuilt = _build_embed(ws, load_config(EmbedConfig, overrides=["dtype=float32"]))
    assert rebuilt
    assert "rebuilding prepare/synth: seed 0 → 5" in caplog.text
    assert "rebuilding embed/synth/enc: upstream prepare/synth was rebuilt" in caplog.text


def test_a_missing_artifact_with_a_typo_name_suggests_the_existing_one(tmp_path):
    ws = Workspace(tmp_path)
    _build_prepare(ws)
    _build_embed(ws)
    with pytest.raises(MissingArtifactError) as e:
        upstream(ws, "embed", "synth", "enk")
    assert str(e.value) == (f"embed/synth/enk is missing in {tmp_path}; did you mean embed/synth/enc? (existing: enc); "
                            "else run `cxrgen embed --dataset synth --encoder enk` first")
    with pytest.raises(MissingArtifactError) as e:
        upstream(ws, "prepare", "mimic")            # nothing like it: only the command that builds it
    assert str(e.value) == f"prepare/mimic is missing in {tmp_path}; run `cxrgen prepare mimic …` first"
