"""benchmarks/gpu.sh --smoke: the GPU benchmark's whole code path (real Trainer, generate_batch, embed
stage, report writer) runs on CPU with the tiny twins, so the script is known to work before a GPU
machine is booked for it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_smoke_mode_writes_every_section(tmp_path):
    out = tmp_path / "gpu.md"
    p = subprocess.run(["bash", str(REPO / "benchmarks/gpu.sh"), "--smoke", "--out", str(out)], cwd=tmp_path,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "CXRGEN_CACHE": os.environ.get("CXRGEN_CACHE", "")
                            or str(Path.home() / ".cache" / "cxrgen")},
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("# benchmarks/gpu.py --smoke (tiny twins on CPU")
    train = re.findall(r"^\| (prefix|shallow): .*? \| ([\d,]+) / ([\d,]+) \| 3 × 2 \| ([\d,]+) \| n/a \|", text, re.M)
    assert [t[0] for t in train] == ["prefix", "shallow"]
    assert all(int(t[2].replace(",", "")) > 0 and int(t[3].replace(",", "")) > 0 for t in train)
    gen = re.findall(r"^\| (prefix|shallow): .*? \| 6 \| 3 \| 4 \| 3 \| [\d.]+ s \|", text, re.M)
    assert gen == ["prefix", "shallow"]
    assert re.search(r"^\| `cxrgen embed --encoder tiny-medclip-vit` \(0 decode workers\) \| \d+ \| [\d.,]+ \|", text, re.M)
    assert "JPEG decode 512×512" in text


def test_gpu_benchmark_without_a_gpu_says_use_smoke(tmp_path):
    import pytest
    import torch
    if torch.cuda.is_available():
        pytest.skip("on a GPU machine the full run is the benchmark itself, not a test")
    p = subprocess.run(["bash", str(REPO / "benchmarks/gpu.sh"), "--out", str(tmp_path / "x.md")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "no CUDA GPU here; use --smoke" in p.stderr and not (tmp_path / "x.md").exists()
