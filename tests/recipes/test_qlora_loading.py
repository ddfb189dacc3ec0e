"""The qlora recipe's loading path: a local LLM folder (the way real weights arrive) unquantised on CPU,
NF4 refused off CUDA, and the real 4-bit NF4 + double-quant path on a GPU with bitsandbytes."""

from __future__ import annotations

import importlib.util

import pytest
import torch


@pytest.fixture
def llama_dir(tmp_path):
    from cxrgen.models.llms import load_llm
    llm = load_llm("tiny-llama")
    llm.model.save_pretrained(tmp_path / "llama")
    llm.tokenizer.save_pretrained(tmp_path / "llama")
    return tmp_path / "llama"


def test_local_folder_unquantised_on_cpu(llama_dir, tiny_cfg):
    from cxrgen.models.recipes.qlora import QloraRecipe
    rec = QloraRecipe.create(tiny_cfg("qlora", f"llm={llama_dir}"), device=torch.device("cpu"))
    per_layer = sum(m.lora_A["default"].weight.numel() + m.lora_B["default"].weight.numel()
                    for n, m in rec.lm.named_modules() if hasattr(m, "lora_A") and n.endswith("layers.0.self_attn.q_proj"))
    assert per_layer == 16 * (64 + 64)               # r·(in + out) for the 64×64 tiny q_proj
    trainable = sum(p.numel() for p in rec.parameters() if p.requires_grad)
    cfg = rec.lm.config
    d, kv, ff = cfg.hidden_size, cfg.num_key_value_heads * (cfg.hidden_size // cfg.num_attention_heads), cfg.intermediate_size
    per = 16 * ((d + d) * 2 + (d + kv) * 2 + (d + ff) * 3)
    assert trainable == per * cfg.num_hidden_layers
    assert not getattr(rec.lm, "is_loaded_in_4bit", False)


def test_nf4_on_cpu_is_refused(llama_dir, tiny_cfg):
    from cxrgen.errors import ConfigError
    from cxrgen.models.recipes.qlora import QloraRecipe
    with pytest.raises(ConfigError, match="quant=nf4 needs a CUDA device"):
        QloraRecipe.create(tiny_cfg("qlora", f"llm={llama_dir}", "quant=nf4"), device=torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None,
                    reason="needs CUDA and bitsandbytes (pip install 'cxrgen[gpu]')")
def test_nf4_double_quant_trains_on_gpu(llama_dir, tiny_cfg):
    from cxrgen.models.recipes.qlora import QloraRecipe
    dev = torch.device("cuda")
    rec = QloraRecipe.create(tiny_cfg("qlora", f"llm={llama_dir}", "quant=nf4"), device=dev)
    base = rec.lm.get_base_model()
    assert base.is_loaded_in_4bit
    q = base.config.quantization_config
    assert q.bnb_4bit_quant_type == "nf4" and q.bnb_4bit_use_double_quant
    assert any(type(m).__name__ == "Linear4bit" for m in base.modules())
    assert all("lora_" in n for n, p in rec.named_parameters() if p.requires_grad)
    tok = rec.llm.tokenizer
    ids = torch.tensor([[tok.bos_token_id] + tok("the lungs are clear.", add_special_tokens=False)["input_ids"]],
                       device=dev)
    opt = torch.optim.AdamW([p for p in rec.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(5):
        loss = rec.lm(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
