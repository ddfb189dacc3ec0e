"""The paper presets parse against TrainConfig and carry each paper's numbers; `cxrgen reproduce`
lists settings, plans the chain, and compares a scores.json with the paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "cxrgen" / "presets"
MINE = sorted(p.name for p in CONFIGS.glob("*.yaml") if p.name.startswith(("r2gengpt-", "llama-xr-", "dual-")))
RESEFF = ["finetune-qwen1.5-0.5b.yaml", "prefix-gpt2-medium.yaml", "prefix-gpt2.yaml", "prefix-qwen1.5-0.5b.yaml"]


@pytest.fixture
def data(tmp_path):
    """Existing stand-ins for the data and weight paths reproduce is given (it checks that they exist):
    ``data("m", "w/medclip.bin")`` → their paths as strings; a name ending in '/' (or without a suffix) is a
    folder, else an empty file."""
    def make(*names: str) -> list[str]:
        out = []
        for n in names:
            p = tmp_path / "data" / n
            if n.endswith("/") or not p.suffix:
                p.mkdir(parents=True, exist_ok=True)
            else:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
            out.append(str(p))
        return out
    return make


def test_one_preset_per_published_setting():
    from cxrgen.papers import SETTINGS
    assert sorted(MINE + RESEFF) == sorted(s.config for s in SETTINGS.values())
    assert len(MINE) == 9 and len(SETTINGS) == 13


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
    assert (xr.quant, xr.precision, xr.llm, xr.loss_on) == ("nf4", "fp16", "llama3.1-8b", "all")
    xi = load("llama-xr-instruct-iu.yaml")             # the Instruct variant differs only in model and loss
    assert (xi.llm, xi.loss_on) == ("llama3.1-8b-instruct", "response")
    assert xi.optim == xr.optim and xi.lora == xr.lora and xi.max_len == xr.max_len
    for name in RESEFF:                                # ClipCap's transformer-mapper recipe
        c = load(name)
        assert (c.prefix_len, c.clip_len, c.mapper.kind, c.mapper.layers, c.optim.max_grad_norm) == (40, 40, "transformer", 8, 0.0)
        assert (c.optim.lr, c.optim.warmup_steps, c.optim.batch_size, c.optim.epochs) == (2e-5, 5000, 40, 10)
    du = load("dual-iu.yaml")                          # dual §3.1
    assert (du.optim.lr, du.optim.weight_decay, du.optim.batch_size, du.optim.epochs) == (1e-4, 1e-6, 8, 5)
    assert (du.dual.temperature, du.dual.infonce_weight, du.llm) == (0.07, 0.5, "llama2-7b")
    assert (du.mode, du.dual.target) == ("dual-vit", "hidden")          # trainable ImageNet ViT, LLM encoding


def test_reproduce_list(cli):
    r = cli("reproduce", "--list", "--json")
    assert r.code == 0, r.err
    rows = {x["name"]: x for x in json.loads(r.out)}
    assert sorted(rows) == sorted([
        "prefix-gpt2-mimic", "prefix-gpt2-medium-mimic", "prefix-qwen1.5-0.5b-mimic", "finetune-qwen1.5-0.5b-mimic",
        *(f"r2gengpt-{m}-{d}" for m in ("shallow", "delta", "deep") for d in ("iu", "mimic")),
        "llama-xr-iu", "llama-xr-instruct-iu", "dual-iu"])
    assert rows["r2gengpt-delta-mimic"]["trainable_params"] == 4_976_640
    assert rows["r2gengpt-delta-mimic"]["paper_params"] == "5.0M trainable (Table 2)"
    assert rows["r2gengpt-delta-mimic"]["trainable_params_source"].startswith("cxrgen exact")
    assert rows["llama-xr-iu"]["table"].startswith("Table 3")
    assert rows["prefix-qwen1.5-0.5b-mimic"]["trainable_params"] == 88_227_840
    assert "101M trainable" in rows["prefix-qwen1.5-0.5b-mimic"]["paper_params"]
    assert rows["finetune-qwen1.5-0.5b-mimic"]["trainable_params"] == 88_227_840 + 463_987_712
    assert all(x["differs"] for x in rows.values())
    r = cli("reproduce", "--list")                      # the table names every paper
    assert r.code == 0 and "resource-efficient" in r.out and "LLaMA-XR" in r.out and "dual" in r.out


def test_papers_cite_the_llama_xr_authors():
    from cxrgen.papers import LLAMA_XR, SETTINGS
    assert LLAMA_XR.startswith("Jahangir, Kabir, Akter, Jahan & Chau, LLaMA-XR")
    assert SETTINGS["llama-xr-iu"].paper == LLAMA_XR
    for path in [*CONFIGS.glob("llama-xr-*.yaml"), REPO / "cxrgen" / "models" / "recipes" / "qlora.py",
                 REPO / "cxrgen" / "models" / "adapters.py"]:
        text = path.read_text()
        assert "Jahangir, Kabir, Akter, Jahan" in text and "Aithal" not in text, path


@pytest.mark.parametrize("table,numbers", [
    ("prefix-gpt2-mimic", (0.231, 0.124, 0.073, 0.050)),
    ("prefix-gpt2-medium-mimic", (0.246, 0.133, 0.078, 0.049)),
    ("prefix-qwen1.5-0.5b-mimic", (0.342, 0.200, 0.130, 0.085)),
    ("finetune-qwen1.5-0.5b-mimic", (0.336, 0.199, 0.127, 0.086)),
])
def test_resource_efficient_settings_carry_tables_i_ii(table, numbers):
    from cxrgen.papers import SETTINGS
    s = SETTINGS[table]
    assert set(s.numbers) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4"}
    assert tuple(s.numbers[f"bleu_{n}"] for n in (1, 2, 3, 4)) == pytest.approx(numbers, abs=1e-12)


def test_reproduce_resource_efficient_prepares_like_the_paper(cli, data):
    m, w = data("m", "w/medclip.bin")
    r = cli("reproduce", "prefix-qwen1.5-0.5b-mimic", "--mimic-root", m, "--encoder-weights", w,
            "--dry-run", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    cmds = [c[3:] for c in d["commands"]]
    assert cmds[0] == ["prepare", "mimic", "--root", m, "--per-image", "--views", "AP,PA", "--clean", "lower",
                       "--name", "mimic-ap-pa-images-lower"]
    assert cmds[1] == ["embed", "--dataset", "mimic-ap-pa-images-lower", "--encoder", "medclip-vit",
                       "--encoder-weights", w]
    assert d["missing"] == []
    assert cmds[2][-2:] == ["run=prefix-qwen1.5-0.5b-mimic", "dataset=mimic-ap-pa-images-lower"]
    assert cmds[3][-2:] == ["beams=1", "max_new_tokens=100"]
    assert any("88,227,840" in x and "101M" in x for x in d["differs"])
    assert d["trainable_params"] == 88_227_840 and d["paper_params"].startswith("601M")
    # the printed form shows the list before the commands
    r = cli("reproduce", "prefix-qwen1.5-0.5b-mimic", "--mimic-root", m, "--encoder-weights", w, "--dry-run")
    assert r.code == 0, r.err
    assert r.out.index("differs from the paper:") < r.out.index("$ cxrgen")
    assert "  - report section not stated" in r.out


def test_llama_xr_prepares_raw_reports_under_its_own_name(cli, data):
    rep, img, w = data("r.tgz", "img/", "x.pt")
    r = cli("reproduce", "llama-xr-iu", "--iu-reports", rep, "--iu-images", img, "--encoder-weights", w,
            "--dry-run", "--json")
    assert r.code == 0, r.err
    cmds = [c[3:] for c in json.loads(r.out)["commands"]]
    assert cmds[0][-4:] == ["--clean", "none", "--name", "iu-raw"]
    assert cmds[1][:3] == ["embed", "--dataset", "iu-raw"]
    assert "dataset=iu-raw" in cmds[2]
    assert cmds[4][-2:] == ["--convention", "llama-xr"]


def test_every_setting_dry_runs_offline(cli, data, monkeypatch):
    """Every setting's --dry-run --json lists its commands and differences and never opens a socket."""
    import socket

    from cxrgen.papers import SETTINGS
    rep, img, m, ann, w = data("r.tgz", "img/", "m/", "a.json", "w.pt")

    def no_network(*a, **k):
        raise AssertionError("network access during reproduce --dry-run")
    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for name, s in SETTINGS.items():
        r = cli("reproduce", name, "--iu-reports", rep, "--iu-images", img, "--mimic-root", m,
                "--annotation", ann, "--encoder-weights", w, "--dry-run", "--json")
        assert r.code == 0, (name, r.err)
        d = json.loads(r.out)
        assert d["differs"] == list(s.differs) and len(d["differs"]) >= 1
        steps = [c[3] for c in d["commands"]]
        assert steps == ["prepare", "embed", "train", "generate", "score"] if s.cached_features else \
            ["prepare", "train", "generate", "score"], name


def test_reproduce_dry_run_plans_the_chain(cli, ws, data):
    rep, img, ann, llm = data("d/NLMCXR_reports.tgz", "d/img/", "d/annotation.json", "w/llama2/")
    r = cli("reproduce", "r2gengpt-shallow-iu", "--iu-reports", rep, "--iu-images", img,
            "--annotation", ann, "--llm-weights", llm, "--dry-run", "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    steps = [c[3] for c in d["commands"]]
    assert steps == ["prepare", "embed", "train", "generate", "score"]
    assert d["commands"][0][3:] == ["prepare", "iu", "--reports", rep, "--images", img,
                                    "--views", "all", "--split", "r2gen", "--annotation", ann]
    assert d["commands"][1][3:] == ["embed", "--dataset", "iu", "--encoder", "swin-base-grid",
                                    "--encoder-weights", "microsoft/swin-base-patch4-window7-224"]   # never random
    assert d["commands"][2][-2:] == ["run=r2gengpt-shallow-iu", f"llm_weights={llm}"]
    assert d["commands"][3][-6:] == ["beams=3", "repetition_penalty=2.0", "length_penalty=2.0",
                                     "min_new_tokens=40", "max_new_tokens=100", "checkpoint=best"]
    assert d["commands"][4][3:] == ["score", "--run", "r2gengpt-shallow-iu", "--split", "test",
                                    "--truncate-references", "60"]          # released code: max_length
    assert [(x["metric"], x["paper"]) for x in d["rows"]][:4] == [("bleu_1", 0.466), ("bleu_2", 0.301),
                                                                   ("bleu_3", 0.211), ("bleu_4", 0.156)]
    # delta reads images on the fly: no embed step
    ann, m = data("r2/mimic_cxr/annotation.json", "m/")
    r = cli("reproduce", "r2gengpt-delta-mimic", "--annotation", ann, "--mimic-root", m, "--dry-run", "--json")
    cmds = json.loads(r.out)["commands"]
    assert [c[3] for c in cmds] == ["prepare", "train", "generate", "score"]
    # R2Gen's annotation entries (270,790 / 2,130 / 3,858, all views) with R2GenGPT's MIMIC cleaner
    assert cmds[0][3:] == ["prepare", "mimic", "--annotation", ann, "--root", m,
                           "--views", "all", "--clean", "r2gengpt", "--name", "mimic-r2gen"]
    assert cmds[1][-2:] == ["run=r2gengpt-delta-mimic", "dataset=mimic-r2gen"]
    assert cmds[3][-6:] == ["--truncate-references", "100", "--uncertain", "neg", "--reference-labels", "labeler"]


def test_reproduce_names_missing_roots_and_unknown_settings(cli, data):
    """A real run without its paths fails before the first step with ONE line naming every missing path."""
    r = cli("reproduce", "dual-iu")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "dual-iu needs --iu-reports" in r.err and "and --iu-images" in r.err
    assert "or only --annotation (R2Gen's iu_xray/annotation.json with images/ beside it)" in r.err
    assert r.out == ""                                              # nothing was run or printed
    rep, img = data("r.tgz", "img/")
    r = cli("reproduce", "llama-xr-iu", "--iu-reports", rep, "--iu-images", img)
    assert r.code == 2 and "needs --encoder-weights (the xrv-densenet121-res224-all weights file)" in r.err
    m, = data("m/")
    r = cli("reproduce", "r2gengpt-deep-mimic", "--mimic-root", m)
    assert r.code == 2 and "needs --annotation (R2Gen's mimic_cxr/annotation.json)" in r.err
    r = cli("reproduce", "r2gengpt-shalow-iu", "--dry-run")
    assert r.code == 2 and "did you mean 'r2gengpt-shallow-iu'" in r.err


@pytest.mark.parametrize("name", ["prefix-qwen1.5-0.5b-mimic", "finetune-qwen1.5-0.5b-mimic"])
def test_reproduce_without_paths_names_every_missing_one_at_once(cli, name):
    """--dry-run prints the whole chain with placeholders, then every missing path with what it is, exit 0;
    the same without --dry-run is one error line naming them all (not one per try), exit 2."""
    r = cli("reproduce", name, "--dry-run")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    cmds = [x for x in lines if x.startswith("$ cxrgen ")]
    assert [c.split()[4] for c in cmds] == ["prepare", "embed", "train", "generate", "score"]
    assert "prepare mimic --root MIMIC_ROOT --per-image" in cmds[0]
    assert cmds[1].endswith("--encoder medclip-vit --encoder-weights ENCODER_WEIGHTS")
    block = lines[lines.index(next(x for x in lines if x.startswith("missing"))):]
    assert lines.index(block[0]) > lines.index(cmds[-1])            # after the chain
    assert block[1:3] == ["  --mimic-root MIMIC_ROOT: the MIMIC-CXR-JPG root",
                          "  --encoder-weights ENCODER_WEIGHTS: the medclip-vit weights file"]
    d = json.loads(cli("reproduce", name, "--dry-run", "--json").out)
    assert [(x["option"], x["placeholder"]) for x in d["missing"]] == [("--mimic-root", "MIMIC_ROOT"),
                                                                        ("--encoder-weights", "ENCODER_WEIGHTS")]
    assert d["commands"][0][3:6] == ["prepare", "mimic", "--root"] and d["commands"][0][6] == "MIMIC_ROOT"
    r = cli("reproduce", name)
    assert r.code == 2 and r.out == ""
    err = r.err.strip().splitlines()
    assert len(err) == 1 and "--mimic-root (the MIMIC-CXR-JPG root)" in err[0], r.err
    assert "--encoder-weights (the medclip-vit weights file)" in err[0]


def test_reproduce_dry_run_placeholders_for_iu_and_r2gen_mimic(cli):
    r = cli("reproduce", "llama-xr-iu", "--dry-run")
    assert r.code == 0, r.err
    assert "prepare iu --reports IU_REPORTS --images IU_IMAGES --views all" in r.out
    assert "--encoder-weights ENCODER_WEIGHTS" in r.out
    for option in ("--iu-reports IU_REPORTS:", "--iu-images IU_IMAGES:", "--encoder-weights ENCODER_WEIGHTS:"):
        assert f"\n  {option}" in r.out, option
    r = cli("reproduce", "r2gengpt-deep-mimic", "--dry-run")
    assert r.code == 0, r.err
    assert "prepare mimic --annotation ANNOTATION --views all" in r.out
    assert "  --annotation ANNOTATION: R2Gen's mimic_cxr/annotation.json" in r.out
    r = cli("reproduce", "r2gengpt-deep-iu", "--dry-run")          # swin weights have a default: not missing
    assert r.code == 0 and "ENCODER_WEIGHTS" not in r.out


@pytest.mark.parametrize("dry", [True, False])
def test_reproduce_given_path_that_does_not_exist_is_named(cli, data, tmp_path, dry):
    """A path given on the command line must exist (dry run too): one line naming the path and its option,
    exit 3 like prepare's missing --reports; the paths still missing are named in the same line."""
    gone = str(tmp_path / "images")
    r = cli("reproduce", "dual-iu", "--iu-images", gone, *(["--dry-run"] if dry else []))
    assert r.code == 3 and r.out == "", r.err
    err = r.err.strip().splitlines()
    assert len(err) == 1 and f"{gone}: not found (--iu-images" in err[0], r.err
    assert "dual-iu also needs --iu-reports" in err[0]
    m, = data("m/")
    r = cli("reproduce", "prefix-gpt2-mimic", "--mimic-root", m, "--mimic-reports", str(tmp_path / "r.zip"),
            "--llm-weights", str(tmp_path / "llm"), "--encoder-weights", str(tmp_path / "w.bin"), "--dry-run")
    assert r.code == 3 and len(r.err.strip().splitlines()) == 1
    assert f"{tmp_path / 'r.zip'}: not found (--mimic-reports" in r.err
    assert f"{tmp_path / 'llm'}: not found (--llm-weights" in r.err
    assert f"{tmp_path / 'w.bin'}: not found (--encoder-weights" in r.err
    r = cli("reproduce", "prefix-gpt2-mimic", "--mimic-root", m, "--encoder-weights", "org/medclip-hub-id",
            "--dry-run")                                            # a hub id is not a path
    assert r.code == 0, r.err


def test_reproduce_passes_mimic_reports_to_prepare(cli, data):
    m, reports, w = data("m/", "mimic-cxr-reports.zip", "w.bin")
    for name in ("prefix-gpt2-mimic", "finetune-qwen1.5-0.5b-mimic"):
        r = cli("reproduce", name, "--mimic-root", m, "--mimic-reports", reports, "--encoder-weights", w,
                "--dry-run", "--json")
        assert r.code == 0, r.err
        prep = json.loads(r.out)["commands"][0][3:]
        assert prep[:6] == ["prepare", "mimic", "--root", m, "--reports", reports]
    r = cli("reproduce", "prefix-gpt2-mimic", "--mimic-root", m, "--encoder-weights", w, "--dry-run", "--json")
    assert "--reports" not in json.loads(r.out)["commands"][0]      # default: under --mimic-root
    r = cli("reproduce", "prefix-gpt2-mimic", "--mimic-root", m, "--mimic-reports", reports, "--encoder-weights", w,
            "--dry-run")
    assert f"prepare mimic --root {m} --reports {reports} --per-image" in r.out


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
    assert "setting" not in rows["ce_f1"]  # old scores.json without ce.headline
    head = {"reference": "ref=labeler", "uncertain": "neg", "labeler": "cxrgen-rules-2"}
    (p / "scores.json").write_text(json.dumps({"metrics": {"ce_micro_f1_14": 0.4}, "ce": {"headline": head}}))
    r = cli("reproduce", "r2gengpt-deep-mimic", "--compare", "--json")
    rows = {x["metric"]: x for x in json.loads(r.out)["rows"]}
    assert rows["ce_f1"]["setting"] == "ref=labeler unc=neg labeler=cxrgen-rules-2" and "setting" not in rows["bleu_4"]
    r = cli("reproduce", "r2gengpt-deep-mimic", "--compare")
    assert r.code == 0 and "ce_f1 (ref=labeler unc=neg labeler=cxrgen-rules-2)" in r.out


@pytest.mark.parametrize("ds", ["iu", "mimic"])
def test_r2gengpt_decoding_presets_match_the_recipe_and_reproduce(ds):
    from cxrgen.config.base import load_config, to_dict
    from cxrgen.config.schema import GenerateConfig
    from cxrgen.papers import SETTINGS
    g = to_dict(load_config(GenerateConfig, CONFIGS / "generate" / f"r2gengpt-{ds}.yaml"))
    keys = ("beams", "repetition_penalty", "length_penalty", "min_new_tokens", "max_new_tokens")
    DECODING = {ds: {k: g[k] for k in keys}}   # the settings file is the one place decoding is written
    setting = SETTINGS[f"r2gengpt-deep-{ds}"].decoding
    assert DECODING[ds] == {k: v for k, v in setting.items() if k != "checkpoint"}
    assert setting["checkpoint"] == "best"
    # validation (checkpoint selection) decodes as the test does, and keeps R2GenGPT's 0.5·BLEU-4 + 0.5·CIDEr
    from cxrgen.config.base import load_config
    from cxrgen.config.schema import TrainConfig
    for mode in ("shallow", "delta", "deep"):
        t = load_config(TrainConfig, CONFIGS / f"r2gengpt-{mode}-{ds}.yaml")
        assert t.select == "val:bleu_4+cider"
        assert {k: getattr(t.select_decoding, k) for k in DECODING[ds]} == DECODING[ds]
        assert t.select_decoding.truncate_references == t.max_len == {"iu": 60, "mimic": 100}[ds]


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
        "optim: {max_steps: 2, batch_size: 4}\nval_every: 1\nselect: val:bleu_4+cider\n"
        "select_decoding: {max_new_tokens: 8}\n")
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
    gen = json.loads((ws / "generate" / "r2gengpt-shallow-iu" / "test" / "manifest.json").read_text())
    assert any(i.get("name") == "checkpoint:best" for i in gen["inputs"])   # the selected checkpoint is tested
    tr = scores["settings"]["truncate_references"]      # R2GenGPT's max_length, counted by the run's tokenizer
    assert (tr["tokens"], tr["tokenizer"]) == (60, "tiny-llama") and tr["truncated"] >= 0
    preds = (ws / "generate" / "r2gengpt-shallow-iu" / "test" / "preds.jsonl").read_text().splitlines()
    assert len(preds) > 0


def test_reproduce_manual_is_generated_from_papers():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_reproduce_doc.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = (REPO / "docs" / "manual" / "reproduce.md").read_text()
    from cxrgen.papers import SETTINGS
    for s in SETTINGS.values():
        assert f"## {s.name}\n" in text and all(f"- {d}\n" in text for d in s.differs)


def test_r2gengpt_mimic_prepare_command_runs_on_an_r2gen_copy(tmp_path, cli, ws):
    """The prepare command reproduce plans for r2gengpt-*-mimic works on R2Gen's mimic_cxr layout: every
    annotation entry, all views, R2GenGPT's MIMIC cleaner, under its own name."""
    from tests.test_prepare_mimic import make_tree
    from tests.test_prepare_r2gen import _mimic_tree
    ann = _mimic_tree(tmp_path / "mimic_cxr")
    jpg = make_tree(tmp_path / "mimic-cxr-jpg")
    r = cli("reproduce", "r2gengpt-shallow-mimic", "--annotation", str(ann), "--mimic-root", str(jpg),
            "--dry-run", "--json")
    assert r.code == 0, r.err
    prep = json.loads(r.out)["commands"][0][3:]
    r = cli(*prep)
    assert r.code == 0, r.err
    stats = json.loads((ws / "prepare" / "mimic-r2gen" / "stats.json").read_text())
    assert stats["clean"] == "r2gengpt-mimic" and stats["splits"] == {"test": 2, "train": 2, "val": 1}
