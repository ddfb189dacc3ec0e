"""Render every sbatch template with fake `srun`/`torchrun`/`scontrol` and check the launch lines."""

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((REPO / "examples/slurm").glob("*.sbatch"))
STAGES = ("prepare", "embed", "train", "generate", "score")


@pytest.fixture
def fakebin(tmp_path):
    b = tmp_path / "bin"
    b.mkdir()
    for name, body in {"srun": 'echo "srun $*"', "scontrol": "echo node01; echo node02",
                       "torchrun": 'echo "torchrun $*"'}.items():
        p = b / name
        p.write_text(f"#!/usr/bin/env bash\n{body}\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return b


def render(template: Path, fakebin: Path, **env: str) -> str:
    e = dict(os.environ, PATH=f"{fakebin}:{os.environ['PATH']}", SLURM_SUBMIT_DIR=str(REPO),
             SLURM_JOB_ID="42", SLURM_NNODES="2", SLURM_JOB_NODELIST="node[01-02]", MIMIC_ROOT="/data/mimic", **env)
    return subprocess.run(["bash", str(template)], env=e, capture_output=True, text=True, check=True).stdout.strip()


def test_single_and_multi_node_template_for_each_stage():
    names = {t.stem for t in TEMPLATES}
    assert names == {f"{s}-{k}" for s in STAGES for k in ("single", "multi")}
    for t in TEMPLATES:
        head = t.read_text()
        assert head.startswith("#!/usr/bin/env bash\n#SBATCH --job-name=cxrgen-")


def test_launch_lines(fakebin):
    out = render(REPO / "examples/slurm/train-multi.sbatch", fakebin, MODE="delta", LLM="llama2-7b-chat", DATASET="iu")
    assert out == ("srun torchrun --nnodes 2 --nproc_per_node 1 --rdzv_id 42 --rdzv_backend c10d "
                   "--rdzv_endpoint node01:29500 -m cxrgen train --mode delta --llm llama2-7b-chat --dataset iu "
                   "--run-name delta-llama2-7b-chat-iu --resume auto")
    out = render(REPO / "examples/slurm/embed-single.sbatch", fakebin, GPUS_PER_NODE="4", WEIGHTS="/w/medclip.bin")
    assert out == ("srun torchrun --standalone --nproc_per_node 4 -m cxrgen embed --dataset mimic "
                   "--encoder medclip-vit --encoder-weights /w/medclip.bin")
    out = render(REPO / "examples/slurm/generate-multi.sbatch", fakebin, RUN="r1", BEAMS="3")
    assert out == "srun python -m cxrgen generate --run r1 --split test --beams 3"
    out = render(REPO / "examples/slurm/prepare-single.sbatch", fakebin)
    assert out == "srun cxrgen prepare mimic --root /data/mimic --reports /data/mimic"
    for t in TEMPLATES:  # every template launches exactly one cxrgen command for its own stage
        lines = render(t, fakebin).splitlines()
        assert len(lines) == 1 and re.search(rf"cxrgen {t.stem.split('-')[0]}\b", lines[0]), t.name


def test_srun_per_gpu_maps_slurm_ranks(monkeypatch):
    from cxrgen.utils import dist
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    assert (dist.rank(), dist.world_size(), dist.local_rank()) == (5, 8, 1)
    monkeypatch.setenv("RANK", "0")  # torchrun's variables win when both are present
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert (dist.rank(), dist.world_size()) == (0, 2)
