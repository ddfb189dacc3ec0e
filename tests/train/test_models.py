"""Mapper shapes and exact parameter counts, LLM registry resolution, tiny models and the Recipe layout."""

from __future__ import annotations

import pytest
import torch

from cxrgen.config.base import from_dict
from cxrgen.config.schema import TrainConfig
from cxrgen.errors import CheckpointError, ConfigError
from cxrgen.models.llms import count_params, load_llm, resolve, tiny_tokenizer
from cxrgen.models.mapper import MlpMapper, TransformerMapper, build_mapper
from cxrgen.models.recipes.base import IGNORE, layout, target_ids


@pytest.mark.parametrize("d,expected", [(768, 41_745_408), (1024, 72_437_760)])
def test_clipcap_transformer_mapper_param_count_on_meta(d, expected):
    with torch.device("meta"):
        m = TransformerMapper(512, d, prefix_len=10, clip_len=10)
    assert sum(p.numel() for p in m.parameters()) == expected
    # no bias on the query and key/value projections, a bias on the output projection
    attn = m.blocks[0].attn
    assert attn.q.bias is None and attn.kv.bias is None and attn.out.bias is not None
    assert len(m.blocks) == 8 and m.blocks[0].fc1.out_features == 2 * d


def test_mapper_outputs_prefix_positions_only():
    torch.manual_seed(0)
    m = TransformerMapper(512, 64, prefix_len=4, clip_len=3, layers=2, heads=4)
    x = torch.randn(5, 512)
    y = m(x)
    assert y.shape == (5, 4, 64)
    # rows are independent: the output of one row does not depend on the others
    assert torch.allclose(m(x[:1]), y[:1], atol=1e-6)
    mlp = build_mapper("mlp", in_dim=512, d=64, prefix_len=4, clip_len=3)
    assert isinstance(mlp, MlpMapper) and mlp(x).shape == (5, 4, 64)
    # ClipCap MLP: 512 → d·p/2 → d·p
    assert sum(p.numel() for p in mlp.parameters()) == (512 * 128 + 128) + (128 * 256 + 256)


@pytest.mark.parametrize("name,total,d", [("gpt2", 124_439_808, 768), ("gpt2-medium", 354_823_168, 1024),
                                          ("qwen1.5-0.5b", 463_987_712, 1024),
                                          ("llama2-7b-chat", 6_738_415_616, 4096), ("llama2-7b", 6_738_415_616, 4096),
                                          ("llama3.1-8b-instruct", 8_030_261_248, 4096)])
def test_builtin_architectures_count_on_meta_without_download(name, total, d):
    llm = load_llm(name, meta=True)
    assert count_params(llm.model) == (total, total)
    assert llm.hidden_size == d
    assert next(llm.model.parameters()).device.type == "meta"


def test_resolution_of_names_dirs_and_ids(tmp_path):
    assert resolve("gpt2").hf == "openai-community/gpt2"
    assert resolve("tiny-qwen2").tiny == "qwen2"
    assert resolve("someone/some-model").hf == "someone/some-model"
    with pytest.raises(ConfigError, match="did you mean 'gpt2'"):
        resolve("gtp2")
    with pytest.raises(CheckpointError, match="no config.json"):
        resolve(str(tmp_path))
    with pytest.raises(ConfigError, match="takes no --llm-weights"):
        resolve("tiny-gpt2", weights=str(tmp_path))


def test_local_dir_round_trip(tmp_path):
    """A folder written by save_pretrained loads through the same path real weights use."""
    llm = load_llm("tiny-llama")
    llm.model.save_pretrained(tmp_path / "m")
    llm.tokenizer.save_pretrained(tmp_path / "m")
    again = load_llm(str(tmp_path / "m"))
    assert again.source == str((tmp_path / "m").absolute())
    sd0, sd1 = llm.model.state_dict(), again.model.state_dict()
    assert all(torch.equal(sd0[k], sd1[k]) for k in sd0)
    assert again.tokenizer.eos_token_id == llm.eos_id


def test_tiny_models_are_deterministic_and_have_eos_and_pad():
    a, b = load_llm("tiny-gpt2"), load_llm("tiny-gpt2")
    assert all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))
    tok = tiny_tokenizer()
    assert tok.eos_token_id is not None and tok.pad_token_id is not None and tok.eos_token_id != tok.pad_token_id
    text = "small left pleural effusion. no pneumothorax."
    assert tok.decode(tok(text)["input_ids"]) == text
    for name in ("tiny-qwen2", "tiny-llama"):
        llm = load_llm(name)
        out = llm.model(input_ids=torch.tensor([[1, 2, 3]]))
        assert out.logits.shape == (1, 3, len(tok))


def test_target_ids_truncate_and_always_end_with_eos():
    tok = tiny_tokenizer()
    ids = target_ids(tok, "the heart is enlarged consistent with cardiomegaly", 4)
    assert len(ids) == 4 and ids[-1] == tok.eos_token_id
    assert target_ids(tok, "", 10) == [tok.eos_token_id]


def test_layout_right_and_left_padding():
    rows = [{"pre": [7], "n_visual": 2, "post": [], "target": [5, 6]}, {"n_visual": 2, "target": [9]}]
    r = layout(rows, pad_id=0, side="right")
    assert r["seq_ids"].tolist() == [[7, 0, 0, 5, 6], [0, 0, 9, 0, 0]]
    assert r["visual_pos"].tolist()[1] == [True, True, False, False, False]
    assert r["labels"].tolist() == [[IGNORE, IGNORE, IGNORE, 5, 6], [IGNORE, IGNORE, 9, IGNORE, IGNORE]]
    assert r["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    l = layout(rows, pad_id=0, side="left")
    assert l["attention_mask"].tolist()[1] == [0, 0, 1, 1, 1]


def test_prefix_and_finetune_trainable_sets():
    from cxrgen.models.recipes.prefix import FinetuneRecipe, PrefixRecipe
    cfg = from_dict(TrainConfig, {"llm": "tiny-gpt2", "mapper": {"layers": 1}, "prefix_len": 3, "clip_len": 2})
    p = PrefixRecipe.create(cfg)
    assert all(n.startswith("mapper.") for n in p.trainable_names())
    total, trainable = count_params(p)
    assert trainable == count_params(p.mapper)[0] and total == trainable + count_params(p.lm)[0]
    f = FinetuneRecipe.create(cfg)
    assert count_params(f)[1] == count_params(f)[0]
    with pytest.raises(CheckpointError, match="another --mode"):
        p.load_trainable_state_dict(f.trainable_state_dict())
    with pytest.raises(ConfigError, match="mapper.in_dim=1024"):
        PrefixRecipe.create(cfg, feature_dim=1024)
