
import hashlib
import json
import sys

import pytest

from cxrgen.config.base import load_config, parse_overrides, semantic_dict, semantic_hash, to_yaml
from cxrgen.config.schema import EmbedConfig, TrainConfig
from cxrgen.errors import ConfigError


def test_overrides_are_typed_and_nested():
    cfg = load_config(TrainConfig, overrides=["optim.lr=1e-4", "prefix_len=20", "mapper.kind=mlp", "llm=gpt2"])
    assert cfg.optim.lr == 1e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.prefix_len == 20 and cfg.mapper.kind == "mlp" and cfg.llm == "gpt2"


def test_unknown_key_lists_valid_keys_with_suggestion():
    with pytest.raises(ConfigError) as e:
        load_config(TrainConfig, overrides=["optim.learning_rate=1"])
    msg = str(e.value)
    assert "unknown config key 'optim.learning_rate'" in msg
    assert "valid keys: optim.lr, optim.weight_decay" in msg
    with pytest.raises(ConfigError, match=r"unknown config key 'prefx_len' \(did you mean 'prefix_len'\?\)"):
        load_config(TrainConfig, overrides=["prefx_len=3"])
    with pytest.raises(ConfigError, match=r"unknown config key 'lr' \(did you mean 'optim.lr'\?\)"):
        load_config(TrainConfig, overrides=["lr=0.1"])           # a nested key given bare


def test_wrong_type_names_key():
    with pytest.raises(ConfigError, match=r"prefix_len='ten' is not a valid int"):
        load_config(TrainConfig, overrides=["prefix_len=ten"])
    with pytest.raises(ConfigError, match=r"precision='fp8' is not one of"):
        load_config(TrainConfig, overrides=["precision=fp8"])


def test_yaml_layer_error_names_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 0.1\n  bogus: 1\n")
    with pytest.raises(ConfigError, match=r"c.yaml: unknown config key 'optim.bogus'"):
        load_config(TrainConfig, p)
    p.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(TrainConfig, p)


def test_runtime_fields_do_not_change_the_hash():
    a = load_config(EmbedConfig)
    b = load_config(EmbedConfig, overrides=["batch_size=7", "workers=0", "device=cpu"])
    c = load_config(EmbedConfig, overrides=["dtype=float32"])
    assert semantic_hash(a) == semantic_hash(b) != semantic_hash(c)


def test_yaml_round_trip(tmp_path):
    cfg = load_config(TrainConfig, overrides=["lora.targets=q_proj,v_proj"])
    p = tmp_path / "cfg.yaml"
    p.write_text(to_yaml(cfg))
    assert load_config(TrainConfig, p) == cfg
    assert cfg.lora.targets == ("q_proj", "v_proj")


def test_parse_overrides_rejects_missing_equals():
    with pytest.raises(ConfigError, match="not of the form key=value"):
        parse_overrides(["lr"])
    assert parse_overrides(["a.b=[1,2]", "c=hello world"]) == {"a": {"b": [1, 2]}, "c": "hello world"}


def test_weights_keys_are_named_like_the_flags_and_the_old_key_still_reads(tmp_path, caplog):
    old = tmp_path / "old.yaml"
    old.write_text("llm: gpt2\nweights: /w/gpt2\n")
    with caplog.at_level("WARNING", logger="cxrgen.config"):
        cfg = load_config(TrainConfig, old)
    assert cfg.llm_weights == "/w/gpt2" and cfg.encoder_weights == ""
    assert caplog.text.count("config key 'weights' is deprecated; write 'llm_weights'") == 1
    assert str(old) in caplog.text
    new = load_config(TrainConfig, {"llm": "gpt2"}, overrides=["llm_weights=/w/gpt2"])
    assert new == cfg
    # the rename alone leaves fingerprints (hence existing artifacts) as they were
    d = semantic_dict(new)
    d["weights"] = d.pop("llm_weights")  # the dict hashed before the rename
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
    assert semantic_hash(new) == hashlib.sha256(blob.encode()).hexdigest()
    assert semantic_dict(new)["llm_weights"] == "/w/gpt2" and "weights" not in semantic_dict(new)  # manifests
    assert load_config(EmbedConfig, {}, overrides=["weights=w.pt"]).encoder_weights == "w.pt"
    with pytest.raises(ConfigError, match="both 'weights' and 'llm_weights' are set; keep only 'llm_weights'"):
        load_config(TrainConfig, {"weights": "a", "llm_weights": "b"})
    # a later layer's new key overrides an earlier layer's old one
    assert load_config(TrainConfig, old, overrides=["llm_weights=/x"]).llm_weights == "/x"


@pytest.mark.parametrize("override,message", [
    ("prefix_len=100000000", "prefix_len=100000000 must be ≤ 1024"),     # asked for 51 GB before a step
    ("clip_len=5000", "clip_len=5000 must be ≤ 1024"),
    ("max_len=40000", "max_len=40000 must be ≤ 32768"),
    ("mapper.layers=100000", "mapper.layers=100000 must be in [1, 64]"),
    ("lora.r=0", "lora.r=0 must be in [1, 4096]"),
    ("dual.content_layers=100000", "dual.content_layers=100000 must be in [1, 64]"),
    ("dual.topic_layers=0", "dual.topic_layers=0 must be in [1, 64]"),
    ("optim.grad_accum=100000", "optim.grad_accum=100000 must be ≤ 65536"),
    ("select_decoding.max_new_tokens=10000000", "select_decoding.max_new_tokens=10000000 must be ≤ 32768"),
])
def test_settings_that_size_a_model_are_bounded(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(TrainConfig, overrides=[override])
    assert str(e.value) == f"override: {message}"


def test_an_allocation_failure_is_one_line_exit_6(tmp_path):
    """Settings inside the bounds can still exceed the machine: an 8 GB address-space limit and a mapper
    asking for more end as one error line (exit 6), not a traceback; the work folder stays for a resume."""
    import resource
    import subprocess
    from tests.conftest import run_cli, subprocess_env
    ws = tmp_path / "ws"
    assert run_cli("prepare", "synthetic", "--n", "12", workspace=ws).code == 0
    assert run_cli("embed", "--encoder", "tiny-medclip-vit", "--workers", "0", workspace=ws).code == 0
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # noqa: E731
    p = subprocess.run([sys.executable, "-m", "cxrgen", "-w", str(ws), "train", "--mode", "prefix", "--llm", "tiny-gpt2",
                        "--encoder", "tiny-medclip-vit", "--run", "big", "prefix_len=1024", "clip_len=1024",
                        "mapper.layers=64", "mapper.mlp_ratio=64", "optim.max_steps=1"],
                       capture_output=True, text=True, env=subprocess_env(OMP_NUM_THREADS="1"), preexec_fn=limit,
                       timeout=300)
    last = p.stderr.splitlines()[-1]
    assert p.returncode == 6 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert last.startswith("error: out of memory (tried to allocate ") and "prefix_len" in last
    assert not (ws / "train" / "big").exists()
