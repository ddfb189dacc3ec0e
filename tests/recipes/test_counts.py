"""Exact parameter parity with the papers, counted on the meta device (no weights, no download)."""

from __future__ import annotations

import json

import pytest

LLAMA2_7B = 6_738_415_616       # meta-llama/Llama-2-7b-chat-hf
LLAMA31_8B = 8_030_261_248      # meta-llama/Llama-3.1-8B-Instruct
SWIN_B = 86_743_224             # microsoft/swin-base-patch4-window7-224 (no pooler/classifier)


def test_projector_is_4206592_at_d4096():
    import torch
    from cxrgen.models.projector import VisualProjector, projector_params
    with torch.device("meta"):
        p = VisualProjector(1024, 4096)
    assert sum(x.numel() for x in p.parameters()) == 4_206_592 == projector_params(1024, 4096)


def test_swin_b_lora_qv_r16_is_770048():
    import torch
    from cxrgen.config.schema import LoraSpec
    from cxrgen.models.adapters import SWIN_QV, add_lora
    from cxrgen.models.encoders.swin import build_swin_base
    with torch.device("meta"):
        swin = build_swin_base(config_only=True)
        assert sum(p.numel() for p in swin.parameters()) == SWIN_B
        peft_model = add_lora(swin, LoraSpec(r=16, alpha=16, dropout=0.1), SWIN_QV, what="Swin")
    trainable = {n: p.numel() for n, p in peft_model.named_parameters() if p.requires_grad}
    assert sum(trainable.values()) == 770_048
    assert all("lora_" in n and (".q_proj." in n or ".v_proj." in n) for n in trainable)


def test_unknown_lora_target_lists_the_real_ones():
    import torch
    from cxrgen.config.schema import LoraSpec
    from cxrgen.errors import ConfigError
    from cxrgen.models.adapters import add_lora
    m = torch.nn.Sequential(torch.nn.Linear(4, 4))
    with pytest.raises(ConfigError, match=r"LoRA targets q_proj not found in the toy; its linear layers are: 0"):
        add_lora(m, LoraSpec(), ("q_proj",), what="toy")


def _dry(cli, *args):
    r = cli("train", *args, "--dry-run", "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.mark.parametrize("mode,trainable,total,parts", [
    ("shallow", 4_206_592, LLAMA2_7B + 4_206_592, {"projector": (4_206_592, 4_206_592), "llm": (LLAMA2_7B, 0)}),
    ("delta", 4_976_640, LLAMA2_7B + 4_206_592 + SWIN_B + 770_048,
     {"visual_encoder": (SWIN_B + 770_048, 770_048), "projector": (4_206_592, 4_206_592), "llm": (LLAMA2_7B, 0)}),
    ("deep", 90_949_816, LLAMA2_7B + 4_206_592 + SWIN_B,
     {"visual_encoder": (SWIN_B, SWIN_B), "projector": (4_206_592, 4_206_592), "llm": (LLAMA2_7B, 0)}),
])
def test_r2gengpt_dry_run_counts(cli, mode, trainable, total, parts):
    d = _dry(cli, "--mode", mode, "--llm", "llama2-7b-chat")
    assert d["trainable_params"] == trainable
    assert d["total_params"] == total
    assert {k: (v["params"], v["trainable"]) for k, v in d["components"].items()} == parts


def test_qlora_dry_run_is_41943040(cli):
    d = _dry(cli, "--mode", "qlora", "--llm", "llama3.1-8b-instruct")
    assert d["trainable_params"] == 41_943_040
    assert d["total_params"] == LLAMA31_8B + 41_943_040
    assert d["encoder"] == "xrv-densenet121-res224-all"


def test_dual_dry_run_trains_encoders_and_projector_only(cli):
    d = _dry(cli, "--mode", "dual", "--llm", "llama2-7b")
    comps = d["components"]
    assert comps["llm"] == {"params": LLAMA2_7B, "trainable": 0}
    w, d_llm, layers = 768, 4096, 2
    enc_layer = 4 * (w * w + w) + 2 * (w * 4 * w) + 4 * w + w + 2 * 2 * w     # attn + MLP + norms
    dec_layer = enc_layer + 4 * (w * w + w) + 2 * w                           # + cross-attention + norm
    assert comps["content_encoder"]["trainable"] == layers * enc_layer
    assert comps["topic_encoder"]["trainable"] == (d_llm * w + w) + layers * dec_layer
    assert comps["projector"]["trainable"] == 2 * w + (w * d_llm + d_llm)
    assert d["trainable_params"] == sum(c["trainable"] for c in comps.values())
    assert d["total_params"] == LLAMA2_7B + d["trainable_params"]


def _clipcap_transformer(d: int, prefix: int, clip: int, layers: int = 8, in_dim: int = 512) -> int:
    """ClipCap's transformer mapper written out: Linear(in, clip·d), prefix constants, and per layer two
    LayerNorms (4d), bias-free q (d²) and kv (2d²), biased out (d² + d), MLP d→2d→d (4d² + 3d)."""
    return (in_dim * clip * d + clip * d) + prefix * d + layers * (8 * d * d + 8 * d)


@pytest.mark.parametrize("preset,llm,d,llm_params", [
    ("prefix-gpt2.yaml", "gpt2", 768, 124_439_808),
    ("prefix-gpt2-medium.yaml", "gpt2-medium", 1024, 354_823_168),
    ("prefix-qwen1.5-0.5b.yaml", "qwen1.5-0.5b", 1024, 463_987_712),
])
def test_prefix_at_clipcap_transformer_40_40(cli, preset, llm, d, llm_params):
    """The resource-efficient settings' mapper at prefix/clip 40: 53,587,968 (GPT-2) and 88,227,840 (d=1024)."""
    from pathlib import Path
    cfg = Path(__file__).resolve().parents[2] / "cxrgen" / "presets" / preset
    d_run = _dry(cli, "--config", str(cfg))
    mapper = _clipcap_transformer(d, 40, 40)
    assert mapper == {768: 53_587_968, 1024: 88_227_840}[d]
    assert d_run["trainable_params"] == mapper
    assert d_run["components"]["mapper"] == {"params": mapper, "trainable": mapper}
    assert d_run["components"]["llm"] == {"params": llm_params, "trainable": 0}
    assert d_run["total_params"] == llm_params + mapper


def test_every_setting_states_its_exact_count(cli):
    """papers.py's trainable_params is what `train --dry-run` counts for the setting's preset."""
    from pathlib import Path

    from cxrgen.papers import SETTINGS
    configs = Path(__file__).resolve().parents[2] / "cxrgen" / "presets"
    seen = 0
    for s in SETTINGS.values():
        if s.trainable_params is None:
            continue
        assert _dry(cli, "--config", str(configs / s.config))["trainable_params"] == s.trainable_params, s.name
        seen += 1
    assert seen == 13
    assert SETTINGS["finetune-qwen1.5-0.5b-mimic"].trainable_params == 463_987_712 + 88_227_840


def test_qlora_base_model_counts_like_the_instruct_one(cli):
    d = _dry(cli, "--mode", "qlora", "--llm", "llama3.1-8b")
    assert d["trainable_params"] == 41_943_040 and d["total_params"] == LLAMA31_8B + 41_943_040


def test_dual_vit_trains_the_whole_vit_b(cli):
    """dual-vit (the paper's setting): ViT-B/16 without its classifier (85,798,656) trains with the encoders."""
    d = _dry(cli, "--mode", "dual-vit", "--llm", "llama2-7b")
    assert d["components"]["visual_encoder"] == {"params": 85_798_656, "trainable": 85_798_656}
    assert d["trainable_params"] == 85_798_656 + 39_377_152 == 125_175_808
    assert d["total_params"] == LLAMA2_7B + 125_175_808
