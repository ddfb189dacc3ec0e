"""The embed stage: dry run, errors (fail vs skip), reuse, kill -9 and resume, two ranks under torchrun."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PY, REPO, run_cli, subprocess_env
from tests.embed.conftest import manifest, read_h5

ENC = "tiny-medclip-vit"


def _embed_opts(ws, opts):
    return run_cli("embed", "--dataset", "fixture", "--encoder", ENC, *opts, workspace=ws)


def _embed(ws, *extra):
    return run_cli("embed", "--dataset", "fixture", "--encoder", ENC, "--workers", "0", *extra, workspace=ws)


def test_dry_run_prints_plan_and_writes_nothing(prepared):
    ws, ids = prepared(5)
    r = run_cli("embed", "--dataset", "fixture", "--encoder", "tiny-swin-grid", "--dry-run", "--batch-size", "2",
                "shard_size=3", workspace=ws)
    assert r.code == 0, r.err
    assert "parameters  96,950" in r.out
    assert f"49×64 float16 per image → features {len(ids)}×49×64" in r.out
    assert f"~{len(ids) * 49 * 64 * 2 / 1024:.1f} KiB" in r.out
    assert "2 shard(s) of ≤4 images (0 already done), world size 1, batch 2" in r.out
    assert not (ws / "embed").exists()


def test_missing_prepare_names_the_fix(tmp_path):
    r = run_cli("embed", "--dataset", "nothere", "--encoder", ENC, workspace=tmp_path / "ws")
    assert r.code == 4 and "prepare/nothere is missing" in r.err and "cxrgen prepare" in r.err


def test_unknown_encoder_suggests(prepared):
    ws, _ = prepared(2)
    r = run_cli("embed", "--dataset", "fixture", "--encoder", "tiny-medclip", workspace=ws)
    assert r.code == 2 and "did you mean 'tiny-medclip-vit'" in r.err


# fixture layout: ids[2] is p001/img0.jpg, ids[3] is p002/img0.dcm, ids[4] is p003/img0.png
@pytest.mark.parametrize("pos,what,pattern", [
    (2, "corrupt", r"p001/img0\.jpg: unreadable image \("),
    (3, "corrupt", r"p002/img0\.dcm: DICOM file without pixel data \(truncated"),
    (4, "missing", r"p003/img0\.png: image file not found"),
])
def test_bad_image_fails_with_one_line_then_skip_lists_it(prepared, pos, what, pattern):
    import re
    ws, ids = prepared(6, bad={pos: what})
    r = _embed(ws)
    assert r.code == 3
    assert re.search(pattern, r.err), r.err
    assert "--on-error skip" in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert not (ws / "embed" / "fixture" / ENC / "manifest.json").exists()
    r = _embed(ws, "--on-error", "skip")
    assert r.code == 0, r.err
    m = manifest(ws, "fixture", ENC)
    assert m["counts"] == {"images": len(ids), "embedded": len(ids) - 1, "skipped": 1}
    assert [s["id"] for s in m["extra"]["skipped"]] == [ids[pos]]
    assert re.search(pattern, m["extra"]["skipped"][0]["error"])
    d = read_h5(ws / "embed" / "fixture" / ENC / "features.h5")
    assert d["ids"] == ids[:pos] + ids[pos + 1:]


def test_up_to_date_reused_and_float32(prepared):
    ws, ids = prepared(4)
    assert _embed(ws).code == 0
    f = ws / "embed" / "fixture" / ENC / "features.h5"
    mtime = f.stat().st_mtime_ns
    assert _embed(ws, "--batch-size", "3").code == 0          # runtime option: same artifact
    assert f.stat().st_mtime_ns == mtime
    assert _embed(ws, "--dtype", "float32").code == 0
    d = read_h5(f)
    assert d["features"].dtype == np.float32 and d["attrs"]["dtype"] == "float32" and d["ids"] == ids


def _run_embed_subprocess(ws: Path, extra: list[str], env: dict | None = None, torchrun: int = 0):
    """cxrgen embed in a child process (``env`` may set ``CXRGEN_FAIL_AT`` to kill it at a shard)."""
    args = ["--workspace", str(ws), "embed", "--dataset", "fixture", "--encoder", ENC] + extra
    if torchrun:
        cmd = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(torchrun),
               "-m", "cxrgen"] + args
    else:
        cmd = [PY, "-m", "cxrgen"] + args
    return subprocess.Popen(cmd, cwd=REPO, env=subprocess_env(**(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_crash_then_resume_in_process(prepared, tmp_path, monkeypatch, caplog):
    """Cheap resume check for the default suite: the run dies after 2 shards, the rerun does the rest."""
    ws, ids = prepared(6)                               # 8 images → 4 shards of 2
    opts = ["--workers", "0", "--batch-size", "2", "shard_size=2"]
    monkeypatch.setenv("CXRGEN_FAIL_AT", "embed.shard:2")   # like Ctrl-C after two finished shards
    assert _embed_opts(ws, opts).code == 130
    work = ws / "embed" / "fixture" / f"{ENC}.partial"
    assert sorted(p.name for p in work.glob("shard-*")) == ["shard-000000000-000000002.npz",
                                                            "shard-000000002-000000004.npz"]
    monkeypatch.delenv("CXRGEN_FAIL_AT")
    with caplog.at_level("INFO", logger="cxrgen.stages.embed"):
        assert _embed_opts(ws, opts).code == 0
    assert "resuming: 4 of 8 images already embedded" in caplog.text   # nothing computed twice
    ws2 = tmp_path / "ws2"
    shutil.copytree(ws / "prepare", ws2 / "prepare")
    assert _embed_opts(ws2, opts).code == 0
    a = read_h5(ws / "embed" / "fixture" / ENC / "features.h5")
    b = read_h5(ws2 / "embed" / "fixture" / ENC / "features.h5")
    assert a["ids"] == b["ids"] == ids and a["features"].tobytes() == b["features"].tobytes()


@pytest.mark.e2e
def test_kill_minus_9_then_resume_gives_identical_cache(prepared, tmp_path, caplog):
    ws, ids = prepared(6)                               # 8 images → 4 shards of 2
    opts = ["--workers", "1", "--batch-size", "2", "shard_size=2"]
    p = _run_embed_subprocess(ws, opts, env={"CXRGEN_FAIL_AT": "embed.shard:1:kill"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    work = ws / "embed" / "fixture" / f"{ENC}.partial"
    done = sorted(x.name for x in work.glob("shard-*.npz"))
    assert len(done) == 1 and not (ws / "embed" / "fixture" / ENC / "manifest.json").exists()
    # resume (in process): the finished shard is kept, only the others are computed
    with caplog.at_level("INFO", logger="cxrgen.stages.embed"):
        assert _embed_opts(ws, opts).code == 0
    assert "resuming: 2 of 8 images already embedded" in caplog.text
    # an uninterrupted run in a copy of the workspace (prepare only)
    ws2 = tmp_path / "ws2"
    shutil.copytree(ws / "prepare", ws2 / "prepare")
    shutil.copy(ws / "workspace.json", ws2 / "workspace.json")
    assert _embed_opts(ws2, opts).code == 0
    a = read_h5(ws / "embed" / "fixture" / ENC / "features.h5")
    b = read_h5(ws2 / "embed" / "fixture" / ENC / "features.h5")
    assert a["ids"] == b["ids"] == ids
    assert a["features"].tobytes() == b["features"].tobytes()
    assert a["attrs"] == b["attrs"]
    ma, mb = manifest(ws, "fixture", ENC), manifest(ws2, "fixture", ENC)
    assert ma["fingerprint"] == mb["fingerprint"]
    assert ma["outputs"]["features.h5"]["sha256"] == mb["outputs"]["features.h5"]["sha256"]


@pytest.mark.e2e
def test_torchrun_two_ranks_equal_single_process(prepared, tmp_path):
    ws, ids = prepared(10)                              # 14 images
    opts = ["--workers", "1", "--batch-size", "2", "shard_size=2", "--device", "cpu"]
    p = _run_embed_subprocess(ws, opts, torchrun=2, env={"OMP_NUM_THREADS": "1"})
    out, err = p.communicate(timeout=400)
    assert p.returncode == 0, err[-3000:]
    ws2 = tmp_path / "ws2"
    shutil.copytree(ws / "prepare", ws2 / "prepare")
    shutil.copy(ws / "workspace.json", ws2 / "workspace.json")
    p = _run_embed_subprocess(ws2, opts, env={"OMP_NUM_THREADS": "1"})
    out2, err2 = p.communicate(timeout=300)
    assert p.returncode == 0, err2
    a = read_h5(ws / "embed" / "fixture" / ENC / "features.h5")
    b = read_h5(ws2 / "embed" / "fixture" / ENC / "features.h5")
    assert a["ids"] == b["ids"] == ids
    assert a["features"].tobytes() == b["features"].tobytes()
    ma, mb = manifest(ws, "fixture", ENC), manifest(ws2, "fixture", ENC)
    assert ma["extra"]["world_size"] == 2 and mb["extra"]["world_size"] == 1
    assert ma["fingerprint"] == mb["fingerprint"]


def test_bad_options_are_config_errors(prepared):
    ws, _ = prepared(2)
    r = _embed(ws, "--batch-size", "0")
    assert r.code == 2 and "--batch-size must be ≥ 1, got 0" in r.err
    r = run_cli("embed", "--dataset", "fixture", "--encoder", ENC, "--encoder-weights", "./nope.bin", "--dry-run", workspace=ws)
    assert r.code == 2 and "--encoder-weights ./nope.bin: no such file or directory" in r.err
