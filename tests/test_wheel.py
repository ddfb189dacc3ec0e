"""A built wheel works on its own: presets ship inside the package (read with importlib.resources),
so `cxrgen reproduce` runs from an installed wheel with no source tree in sight."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args, cwd, env):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"
    return r.stdout


@pytest.mark.e2e
def test_built_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    # offline and fast: no build isolation (setuptools is already here), no dependency resolution
    # (the venv sees the system site-packages for torch & co, never this source tree)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    src = tmp_path / "src"  # build from a copy: setuptools writes build/ and *.egg-info next to its input
    shutil.copytree(REPO / "cxrgen", src / "cxrgen", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
         tmp_path, env)
    wheels = list(dist.glob("cxrgen-*.whl"))
    assert len(wheels) == 1
    import zipfile
    names = zipfile.ZipFile(wheels[0]).namelist()
    presets = sorted(n for n in names if n.startswith("cxrgen/presets/"))
    assert "cxrgen/presets/r2gengpt-shallow-iu.yaml" in presets and "cxrgen/presets/generate/r2gengpt-iu.yaml" in presets
    assert len(presets) == len(list((REPO / "cxrgen" / "presets").rglob("*.yaml")))
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path, env)
    py, exe = venv / "bin" / "python", venv / "bin" / "cxrgen"
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheels[0])], tmp_path, env)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    where = _run([str(py), "-c", "import cxrgen; print(cxrgen.__file__)"], run_dir, env).strip()
    assert where.startswith(str(venv)), where  # the wheel's copy, not the source tree
    assert _run([str(exe), "--version"], run_dir, env).strip().startswith("cxrgen 0.1.0")
    listing = _run([str(exe), "reproduce", "--list"], run_dir, env)
    assert "r2gengpt-shallow-iu" in listing
    ann = tmp_path / "iu_xray" / "annotation.json"   # reproduce checks that the paths it is given exist
    ann.parent.mkdir()
    ann.write_text("{}")
    out = _run([str(exe), "--workspace", str(tmp_path / "ws"), "reproduce", "r2gengpt-shallow-iu", "--annotation",
                str(ann), "--dry-run"], run_dir, env)
    preset = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / \
        "cxrgen" / "presets" / "r2gengpt-shallow-iu.yaml"
    assert f"train --config {preset}" in out
    assert f"prepare iu --annotation {ann} --views all" in out
