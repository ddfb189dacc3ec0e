"""`cxrgen demo`: the whole pipeline on synthetic data with tiny models, on CPU, in minutes.

prepare synthetic → embed (tiny MedCLIP twin) → train lm (the tiny GPT-2 learns report language:
it stands in for a pretrained LLM, which a random twin is not) → train prefix (that LLM frozen, the
mapper learns) → generate → score, then
the trained model beside two baselines computed in the same run:

* ``majority``: the most common training report, given to every test study (knows no image);
* ``shuffled``: the same trained model fed another study's image features (knows the report style,
  not this image).

The trained model should beat both on clinical efficacy: that is the evidence the report follows
the image. Every step is an ordinary stage artifact, so a rerun reuses what is up to date.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from typing import Any, Callable

from cxrgen.config.base import load_config
from cxrgen.config.schema import DemoConfig, EmbedConfig, GenerateConfig, PrepareConfig, ScoreConfig, TrainConfig
from cxrgen.data.records import load_records
from cxrgen.utils.io import write_jsonl
from cxrgen.utils.log import log
from cxrgen.workspace.artifact import ArtifactBuild, upstream
from cxrgen.workspace.layout import FILES, Workspace

DATASET = "demo"
LM_RUN = "demo-lm"
RUN = "demo-prefix"
MAJORITY = "demo-majority"
SHUFFLED_SPLIT = "test-shuffled"
PREFIX_LEN = 24  # room for 90% of the synthetic impressions in the lm step's context slots
COLUMNS = (("bleu_4", "BLEU-4"), ("meteor", "METEOR"), ("rouge_l", "ROUGE-L"), ("cider", "CIDEr"),
           ("ce_macro_f1_14", "CE macro-F1 (14)"), ("ce_micro_f1_14", "CE micro-F1 (14)"),
           ("ce_macro_f1_5", "CE macro-F1 (5)"))


def configs(cfg: DemoConfig, ws: Workspace) -> dict[str, Any]:
    """The stage configs the demo runs, derived from one DemoConfig."""
    from cxrgen.models.recipes.lm import HF_EXPORT
    lm_dir = ws.artifact_dir("train", LM_RUN) / "final" / HF_EXPORT
    return {
        "prepare": load_config(PrepareConfig, {"dataset": "synthetic", "name": DATASET, "n": cfg.n,
                                               "seed": cfg.seed, "views": ["AP", "PA"]}),
        "embed": load_config(EmbedConfig, {"dataset": DATASET, "encoder": cfg.encoder}),
        "lm": load_config(TrainConfig, {
            "mode": "lm", "llm": cfg.llm, "run": LM_RUN, "dataset": DATASET, "max_len": cfg.max_len,
            "prefix_len": PREFIX_LEN,
            "seed": cfg.seed, "save_every": 10_000,
            "optim": {"lr": cfg.lm_lr, "epochs": cfg.lm_epochs, "batch_size": cfg.batch_size,
                      "warmup_steps": 20, "weight_decay": 0.01}}),
        "train": load_config(TrainConfig, {
            "mode": "prefix", "llm": str(lm_dir), "prefix_len": PREFIX_LEN, "run": RUN, "dataset": DATASET, "encoder": cfg.encoder,
            "max_len": cfg.max_len, "seed": cfg.seed, "save_every": 10_000,
            "optim": {"lr": cfg.lr, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                      "warmup_steps": 20, "weight_decay": 0.01}}),
        "generate": load_config(GenerateConfig, {"run": RUN, "split": "test", "max_new_tokens": cfg.max_new_tokens,
                                                 "batch_size": 32}),
        "score": load_config(ScoreConfig, {"bootstrap": cfg.bootstrap, "seed": cfg.seed}),
    }


def majority_baseline(ws: Workspace, force: bool = False):
    """generate/demo-majority/test: the most frequent training report for every test study."""
    entry, _ = upstream(ws, "prepare", DATASET)
    cfg = load_config(GenerateConfig, {"run": MAJORITY, "split": "test"})
    build = ArtifactBuild(ws, "generate", (MAJORITY, "test"), cfg, [entry], force=force)
    if (m := build.up_to_date()):
        return m
    records = load_records(ws.records_path(DATASET))
    counts = Counter(r.report for r in records if r.split == "train")
    top = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]  # ties broken by text: deterministic
    rows = [{"id": r.id, "prediction": top, "reference": r.report} for r in records if r.split == "test"]
    with build:
        write_jsonl(build.work_dir / FILES["preds"], rows)
        return build.commit([FILES["preds"]], counts={"predictions": len(rows)},
                            extra={"baseline": "most common training report", "frequency": counts[top]})


def run(cfg: DemoConfig, *, ws: Workspace, force: bool = False) -> dict:
    from cxrgen.stages import embed, generate, prepare, score, train

    c = configs(cfg, ws)
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], Any]) -> Any:
        log.info("▶ %s", name)
        t = time.perf_counter()
        out = fn()
        timings[name] = round(time.perf_counter() - t, 1)
        return out

    step("prepare synthetic", lambda: prepare.run(c["prepare"], ws=ws, force=force))
    step(f"embed ({cfg.encoder})", lambda: embed.run(c["embed"], ws=ws, force=force))
    step(f"train lm ({cfg.llm} learns report text)", lambda: train.run(c["lm"], ws=ws, force=force))
    step("train prefix (mapper; LLM frozen)", lambda: train.run(c["train"], ws=ws, force=force))
    step("generate test", lambda: generate.run(c["generate"], ws=ws, force=force))
    step("generate test, shuffled image features",
         lambda: generate.run(replace(c["generate"], shuffle_features=True), ws=ws, force=force))
    step("majority baseline", lambda: majority_baseline(ws, force=force))
    systems = {"trained (prefix)": (RUN, "test"), "shuffled images": (RUN, SHUFFLED_SPLIT),
               "most common report": (MAJORITY, "test")}
    results, first = {}, None
    for label, (run_name, split) in systems.items():
        m = step(f"score {label}", lambda r=run_name, s=split: score.run(c["score"], ws=ws, run_name=r, split=s,
                                                                          force=force))
        # one table: the systems must share references and labeler (a reused score artifact might not)
        ident = ({"settings": {"labeler": (m.extra.get("ce") or {}).get("labeler")},
                  "reference_fingerprint": m.extra.get("reference_fingerprint")},
                 str(ws.artifact_dir("score", run_name, split) / "scores.json"))
        first = first or ident
        score.comparable(*first, *ident)
        results[label] = m.extra["metrics"]
        ce_setting = m.extra.get("ce") or None
    log.info("demo timings (s): %s", timings)
    return {"results": results, "timings": timings, "workspace": str(ws.root), "ce": ce_setting}


def render(summary: dict) -> str:
    """Markdown table of the demo's systems (also what benchmarks/results/demo.md holds)."""
    head = "| system | " + " | ".join(t for _, t in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for label, metrics in summary["results"].items():
        lines.append(f"| {label} | " + " | ".join(f"{metrics.get(k, float('nan')):.3f}" for k, _ in COLUMNS) + " |")
    ce = summary.get("ce")
    if ce:  # every CE number is named with its reference source and uncertain convention
        lines += ["", f"CE columns: {ce['reference']}, uncertain={ce['uncertain']}, labeler {ce['labeler']}."]
    return "\n".join(lines)
