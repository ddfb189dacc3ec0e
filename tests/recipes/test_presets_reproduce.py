"""The paper presets parse against TrainConfig and carry each paper's numbers; `cxrgen reproduce`
lists settings, plans the chain, and compares a scores.json with the paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "examples" / "configs"
MINE = sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name.startswith(("r2gengpt-", "llama-xr-", "dual-")))


def test_one_preset_per_published_setting():
    from cxrgen.papers import SETTINGS
    assert MINE == sorted(s.config for s in SETTINGS.values())
    assert len(MINE) == 8


@pytest.mark.parametrize("name", MINE)
def test_preset_parses_and_cites_its_table(name):
    from cxrgen.config.base import load_config
    from cxrgen.config.schema import TrainConfig
    from cxrgen.models.catalog import ENCODERS, LLMS, MODES
    path = CONFIGS / name
    cfg = load_config(TrainConfig, path)
    assert cfg.mode in MODES and cfg.llm in LLMS and cfg.encoder in ENCODERS
    head = path.read_text().split("\nmode:")[0]
    assert "Table" in head and "Reproduces" in head


def test_presets_hold_the_papers_hyperparameters():
    from cxrgen.config.base import load_config
    from cxrgen.config.schema import TrainConfig
    load = lambda n: load_config(TrainConfig, CONFIGS / n)  # noqa: E731
    for mode in ("shallow", "delta", "deep"):          # R2GenGPT §4.2 + released scripts
        iu, mimic = load(f"r2gengpt-{mode}-iu.yaml"), load(f"r2gengpt-{mode}-mimic.yaml")
        assert (iu.optim.lr, iu.optim.batch_size, iu.optim.epochs, iu.max_len) == (1e-4, 6, 15, 60)
        assert (mimic.optim.epochs, mimic.max_len) == (3, 100)
        assert (iu.lora.r, iu.lora.alpha, iu.lora.dropout) == (16, 16, 0.1)
        assert iu.llm == "llama2-7b-chat"
    xr = load("llama-xr-iu.yaml")                      # LLaMA-XR §3.5
    assert (xr.optim.lr, xr.optim.batch_size, xr.optim.grad_accum, xr.optim.epochs) == (2e-6, 8, 4, 3)
    assert (xr.optim.schedule, xr.optim.warmup_steps, xr.optim.weight_decay, xr.lora.r) == ("linear", 30, 0.01, 16)
    assert (xr.quant, xr.precision, xr.llm) == ("nf4", "fp16", "llama3.1-8b-instruct")
    du = load("dual-iu.yaml")                          # dual §3.1
    assert (du.optim.lr, du.optim.weight_decay, du.optim.batch_size, du.optim.epochs) == (1e-4, 1e-6, 8, 5)
    assert (du.dual.temperature, du.dual.infonce_weight, du.llm) == (0.07, 0.5, "llama2-7b")


def test_reproduce_list(cli):
    r = cli("reproduce", "--list", "--json")
    assert r.code == 0, r.err
    rows = {x["name"]: x for x in json.loads(r.out)}
    assert rows["r2gengpt-delta-mimic"]["trainable_params"] == 4_976_640
    assert rows["llama-xr-iu"]["table"].startswith("Table 3")


def test_reproduce_dry_run_plans_the_chain(cli, ws):
    r = cli("reproduce", "r2gengpt-shallow-iu", "--iu-reports", "/d/NLMCXR_reports.tgz", "--iu-images", "/d/img",
            "--annotation", "/d/annotation.json", "--llm-weights", "/w/llama2", "--dry-run", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    steps = [c[3] for c in d["commands"]]
    assert steps == ["prepare", "embed", "train", "generate", "score"]
    assert d["commands"][0][3:] == ["prepare", "iu", "--reports", "/d/NLMCXR_reports.tgz", "--images", "/d/img",
                                    "--views", "all", "--split", "r2gen", "--annotation", "/d/annotation.json"]
    assert d["commands"][1][3:] == ["embed", "--dataset", "iu", "--encoder", "swin-base-grid",
                                    "--weights", "microsoft/swin-base-patch4-window7-224"]   # never random
    assert d["commands"][2][-2:] == ["run=r2gengpt-shallow-iu", "weights=/w/llama2"]
    assert d["commands"][3][-5:] == ["beams=3", "repetition_penalty=2.0", "length_penalty=2.0",
                                     "min_new_tokens=40", "max_new_tokens=100"]
    assert [(x["metric"], x["paper"]) for x in d["rows"]][:4] == [("bleu_1", 0.466), ("bleu_2", 0.301),
                                                                   ("bleu_3", 0.211), ("bleu_4", 0.156)]
    # delta reads images on the fly: no embed step
    r = cli("reproduce", "r2gengpt-delta-mimic", "--mimic-root", "/m", "--dry-run", "--json")
    assert [c[3] for c in json.loads(r.out)["commands"]] == ["prepare", "train", "generate", "score"]


def test_reproduce_names_missing_roots_and_unknown_settings(cli):
    r = cli("reproduce", "dual-iu", "--dry-run")
    assert r.code == 2 and "dual-iu needs --iu-reports" in r.err and "--iu-images" in r.err
    r = cli("reproduce", "llama-xr-iu", "--iu-reports", "r.tgz", "--iu-images", "img", "--dry-run")
    assert r.code == 2 and "--encoder-weights (the xrv-densenet121-res224-all weights file)" in r.err
    r = cli("reproduce", "r2gengpt-shalow-iu", "--dry-run")
    assert r.code == 2 and "did you mean 'r2gengpt-shallow-iu'" in r.err


def test_reproduce_compare_reads_scores_json(cli, ws):
    p = ws / "score" / "r2gengpt-deep-mimic" / "test"
    p.mkdir(parents=True)
    (p / "scores.json").write_text(json.dumps({"metrics": {"bleu_4": 0.1, "cider": 0.3, "ce_micro_f1_14": 0.4}}))
    r = cli("reproduce", "r2gengpt-deep-mimic", "--compare", "--json")
    assert r.code == 0, r.err
    rows = {x["metric"]: x for x in json.loads(r.out)["rows"]}
    assert rows["bleu_4"] == {"metric": "bleu_4", "paper": 0.134, "ours": 0.1, "delta": -0.034}
    assert rows["ce_f1"]["ours"] == 0.4 and rows["ce_f1"]["paper"] == 0.389
    assert rows["meteor"]["ours"] is None


@pytest.mark.parametrize("ds", ["iu", "mimic"])
def test_r2gengpt_decoding_presets_match_the_recipe_and_reproduce(ds):
    from cxrgen.config.base import load_config, to_dict
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.models.recipes.r2gengpt import DECODING
    from cxrgen.papers import SETTINGS
    g = to_dict(load_config(GenerateConfig, CONFIGS / "generate" / f"r2gengpt-{ds}.yaml"))
    assert {k: g[k] for k in DECODING[ds]} == DECODING[ds] == SETTINGS[f"r2gengpt-deep-{ds}"].decoding


@pytest.mark.e2e
def test_reproduce_runs_the_whole_chain_with_a_tiny_preset(tmp_path):
    """`cxrgen reproduce` for real (subprocesses), on IU-layout synthetic data with a tiny preset of the
    same name passed with --configs: prepare iu → embed → train → generate → score → table."""
    from tests.conftest import run_cli
    data_ws = tmp_path / "data-ws"
    r = run_cli("prepare", "synthetic", "--n", "16", "--layout", "iu", "--views", "all", "image_size=256",
                workspace=data_ws)
    assert r.code == 0, r.err
    root = data_ws / "data" / "synthetic"
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "r2gengpt-shallow-iu.yaml").write_text(
        "mode: shallow\nllm: tiny-llama\ndataset: iu\nencoder: tiny-swin-grid\nmax_len: 24\n"
        "optim: {max_steps: 2, batch_size: 4}\n")
    ws = tmp_path / "ws"
    r = run_cli("reproduce", "r2gengpt-shallow-iu", "--iu-reports", str(root / "indiana_reports.csv"),
                "--iu-images", str(root / "images"), "--configs", str(presets), "--json", workspace=ws)
    assert r.code == 0, r.err
    d = json.loads(r.out)
    rows = {x["metric"]: x for x in d["rows"]}
    assert set(rows) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider"}
    assert all(isinstance(rows[m]["ours"], float) for m in ("bleu_1", "bleu_4", "rouge_l", "cider"))
    assert rows["bleu_1"]["paper"] == 0.466
    scores = json.loads((ws / "score" / "r2gengpt-shallow-iu" / "test" / "scores.json").read_text())
    assert rows["bleu_4"]["ours"] == scores["metrics"]["bleu_4"]
    preds = (ws / "generate" / "r2gengpt-shallow-iu" / "test" / "preds.jsonl").read_text().splitlines()
    assert len(preds) > 0
