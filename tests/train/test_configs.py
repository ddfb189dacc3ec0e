"""Every preset in cxrgen/presets parses against TrainConfig and names registered modes/LLMs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxrgen.config.base import load_config
from cxrgen.config.schema import TrainConfig
from cxrgen.models.catalog import LLMS, MODES

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "cxrgen" / "presets").glob("*.yaml"))


def test_the_six_paper_settings_exist():
    names = {p.stem for p in CONFIGS}
    assert {f"{m}-{l}" for m in ("prefix", "finetune") for l in ("gpt2", "gpt2-medium", "qwen1.5-0.5b")} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_preset_parses(path):
    cfg = load_config(TrainConfig, path)
    assert cfg.mode in MODES and cfg.llm in LLMS
    if cfg.mode in ("prefix", "finetune"):
        assert path.stem == f"{cfg.mode}-{cfg.llm}"
        assert "Table" in path.read_text()  # each preset cites the paper table it reproduces
        # ClipCap's transformer-mapper recipe: prefix/clip 40, 8 layers, MedCLIP 512-d, no gradient clipping
        assert (cfg.prefix_len, cfg.clip_len, cfg.mapper.layers, cfg.mapper.in_dim) == (40, 40, 8, 512)
        assert cfg.optim.max_grad_norm == 0.0
