"""`cxrgen env`: the facts a bug report needs, as JSON and as a table."""

from __future__ import annotations

import json
import shutil

import cxrgen
from tests.conftest import run_cli


def test_env_json_names_versions_devices_java_and_locations(tmp_path, monkeypatch):
    monkeypatch.setenv("CXRGEN_CACHE", str(tmp_path / "cache"))
    r = run_cli("env", "--json", workspace=tmp_path / "ws")
    assert r.code == 0, r.err
    info = json.loads(r.out)
    assert info["versions"]["cxrgen"] == cxrgen.__version__ and "torch" in info["versions"]
    assert info["locations"]["workspace"] == str(tmp_path / "ws") and info["locations"]["workspace_exists"] is False
    assert info["locations"]["cxrgen_cache"] == str(tmp_path / "cache")
    import torch
    assert info["devices"]["cuda_available"] == torch.cuda.is_available()
    assert len(info["devices"]["gpus"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert info["java"]["path"] == shutil.which("java")


def test_env_without_java_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # an empty PATH: no java
    r = run_cli("env", workspace=tmp_path / "ws")
    assert r.code == 0 and "not found (score's METEOR needs Java 8+)" in r.out
    assert run_cli("env", "--json", workspace=tmp_path / "ws").out.count('"path": null') == 1
