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
