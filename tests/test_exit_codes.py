"""Exit codes by error kind (README "Exit codes"): scripts and SLURM jobs can tell a typo from bad data,
a missing upstream step, a missing dependency, a full disk and a lock held by another process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from cxrgen import errors
from tests.conftest import run_cli


def test_each_error_kind_has_its_code():
    codes = {cls: cls.exit_code for cls in (errors.ConfigError, errors.InputError, errors.EmptyResultError,
                                            errors.CheckpointError, errors.MissingArtifactError,
                                            errors.DependencyError, errors.WorkspaceWriteError,
                                            errors.WorkspaceLockedError)}
    assert codes == {errors.ConfigError: 2, errors.InputError: 3, errors.EmptyResultError: 3,
                     errors.CheckpointError: 3, errors.MissingArtifactError: 4, errors.DependencyError: 5,
                     errors.WorkspaceWriteError: 6, errors.WorkspaceLockedError: 75}


def test_cli_exits_with_the_kind_of_the_error(tmp_path):
    ws = tmp_path / "ws"
    r = run_cli("train", "--mode", "nope", "--dry-run", workspace=ws)
    assert r.code == 2 and "unknown mode 'nope'" in r.err
    r = run_cli("train", "--mode", "prefix", workspace=ws)
    assert r.code == 4 and "prepare/synthetic is missing" in r.err
    bad = tmp_path / "preds.jsonl"
    bad.write_text('{"id": "a", "prediction": "x"}\n')
    r = run_cli("score", str(bad), "--out", str(tmp_path / "s"), workspace=ws)
    assert r.code == 3 and "missing field(s) 'reference'" in r.err


def test_a_lock_held_by_a_live_process_exits_75(tmp_path):
    ws = tmp_path / "ws"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (ws / "prepare").mkdir(parents=True)
        (ws / "prepare/.synthetic.lock").write_text(json.dumps({"host": socket.gethostname(), "pid": holder.pid}))
        r = run_cli("prepare", "synthetic", "--n", "4", workspace=ws)
        assert r.code == 75 and f"prepare/synthetic is being written by pid {holder.pid}" in r.err
    finally:
        holder.kill()
        holder.wait()
