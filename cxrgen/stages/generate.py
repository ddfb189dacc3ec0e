"""`cxrgen generate`: reports for one split with a trained run → generate/<run>/<split>/preds.jsonl.

Batched decoding with the KV cache through ``transformers``' ``generate(inputs_embeds=…)`` (greedy or
beam search, repetition and length penalties, min/max new tokens). Generation batches are left-padded
and sorted by input length within chunks. Rows are appended to the work folder as each batch finishes,
so a killed run resumes by skipping the ids already written. Under torchrun every rank writes its own
shard (``preds.rank-N.jsonl``) of the remaining ids and rank 0 merges them in record order.

``--shuffle-features`` is a control: each study gets the images (hence features) of another study,
by a fixed derangement drawn from ``seed``; the references stay with their own study. Its
predictions go to generate/<run>/<split>-shuffled/ so they never replace the real ones.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cxrgen.config.schema import GenerateConfig
from cxrgen.errors import ConfigError, InputError, MissingArtifactError
from cxrgen.models.llms import check_generation_length
from cxrgen.utils import dist, faults
from cxrgen.workspace.layout import FILES, Workspace

log = logging.getLogger(__name__)
CHUNK_BATCHES = 16  # batches per length-sorting chunk (bounds memory for grid features)


def validate(cfg: GenerateConfig) -> None:
    issues = []
    if cfg.beams < 1:
        issues.append(f"beams={cfg.beams} must be ≥ 1")
    if cfg.max_new_tokens < 1:
        issues.append(f"max_new_tokens={cfg.max_new_tokens} must be ≥ 1")
    if not 0 <= cfg.min_new_tokens <= cfg.max_new_tokens:
        issues.append(f"min_new_tokens={cfg.min_new_tokens} must be in [0, max_new_tokens={cfg.max_new_tokens}]")
    if cfg.repetition_penalty <= 0:
        issues.append(f"repetition_penalty={cfg.repetition_penalty} must be > 0")
    if cfg.batch_size < 1:
        issues.append(f"batch_size={cfg.batch_size} must be ≥ 1")
    if cfg.limit < 0:
        issues.append(f"limit={cfg.limit} must be ≥ 0")
    if issues:
        raise ConfigError("; ".join(issues))


def default_run(ws: Workspace) -> str:
    from cxrgen.workspace.manifest import read_manifest
    done = []
    for (run,) in ws.keys("train"):
        try:
            m = read_manifest(ws.artifact_dir("train", run))
        except Exception:
            continue
        done.append((m.finished, run))
    if not done:
        raise MissingArtifactError(f"no finished training run in {ws.root}; run `cxrgen train --mode prefix …` first")
    return max(done)[1]


def shuffled(records: list, seed: int) -> list:
    """Each record gets another record's images (a derangement: a random cycle), same id and report."""
    import numpy as np
    n = len(records)
    if n < 2:
        return list(records)
    order = np.random.default_rng(seed).permutation(n)
    out = list(records)
    for i in range(n):
        src, dst = records[order[(i + 1) % n]], records[order[i]]
        out[order[i]] = replace(dst, images=src.images)
    return out


def output_split(cfg: GenerateConfig) -> str:
    """Folder of the predictions: ``<split>``, or ``<split>-shuffled`` for the shuffled-features control."""
    return f"{cfg.split}-shuffled" if cfg.shuffle_features else cfg.split


def decoding(cfg: GenerateConfig) -> dict:
    return {"beams": cfg.beams, "max_new_tokens": cfg.max_new_tokens, "min_new_tokens": cfg.min_new_tokens,
            "repetition_penalty": cfg.repetition_penalty, "length_penalty": cfg.length_penalty,
            "do_sample": False, "shuffle_features": cfg.shuffle_features, "seed": cfg.seed}


class RepetitionPenalty:
    """CTRL-style repetition penalty over the generated tokens (what R2GenGPT gets from HF with inputs_embeds).

    transformers' own processor, given left-padded ``inputs_embeds``, skips each row's first
    ``pad length`` *generated* tokens (it takes them for prompt), so batched and single decoding would
    differ; this one penalises every token generated so far, the same in any batch.
    """

    def __init__(self, penalty: float):
        self.penalty = penalty

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] == 0:
            return scores
        import torch
        score = scores.gather(1, input_ids)
        score = torch.where(score < 0, score * self.penalty, score / self.penalty)
        return scores.scatter(1, input_ids, score)


def generate_batch(recipe: Any, batch: dict, cfg: GenerateConfig, device: Any) -> list[str]:
    """Decode one collated (left-padded) batch; returns the texts, special tokens stripped."""
    import torch

    from cxrgen.models.runtime import Runtime
    batch = Runtime(device).to_device(batch)
    tok = recipe.llm.tokenizer
    with torch.no_grad():
        inp = recipe.prepare_generation(batch)
        check_generation_length(recipe.lm.config, inp["inputs_embeds"].shape[1], cfg.max_new_tokens)
        kw = dict(max_new_tokens=cfg.max_new_tokens, min_new_tokens=cfg.min_new_tokens or None,
                  num_beams=cfg.beams, do_sample=False, eos_token_id=recipe.llm.eos_id,
                  pad_token_id=recipe.llm.pad_id, use_cache=True)
        if cfg.repetition_penalty != 1.0:
            from transformers import LogitsProcessorList
            kw["logits_processor"] = LogitsProcessorList([RepetitionPenalty(cfg.repetition_penalty)])
        if cfg.beams > 1:
            kw["length_penalty"] = cfg.length_penalty
            kw["early_stopping"] = True
        out = recipe.lm.generate(inputs_embeds=inp["inputs_embeds"], attention_mask=inp["attention_mask"], **kw)
    # with inputs_embeds only, decoder-only models return just the new tokens
    return [t.strip() for t in tok.batch_decode(out, skip_special_tokens=True)]


def _read_done(work: Path, *, repair: bool = True) -> dict[str, dict]:
    """Rows already written (preds.jsonl and rank shards). A torn last line after a kill is dropped;
    with ``repair`` (rank 0 only) the file is rewritten without it so appends start on a clean line."""
    done: dict[str, dict] = {}
    for p in sorted(work.glob("preds*.jsonl")):
        good = []
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                break
            done[row["id"]] = row
            good.append(line)
        if repair:
            p.write_text("".join(g + "\n" for g in good), encoding="utf-8")
    return done


@dataclass
class Source:
    """What generation reads: the trained recipe and its run, the feature cache, the records."""
    recipe: Any
    tcfg: Any
    train_manifest: Any
    folder: Path
    weights_sha256: str
    inputs: list
    ctx: Any
    records: list


def load_source(cfg: GenerateConfig, ws: Workspace, device: Any) -> Source:
    """Load the run's checkpoint onto ``device`` and the records to generate for (InputError if none)."""
    from cxrgen.data.features import FeatureStore
    from cxrgen.data.records import load_records
    from cxrgen.models import checkpoint as ck
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.stages.train import load_run
    from cxrgen.workspace.artifact import upstream
    from cxrgen.workspace.hashing import file_sha256

    train_entry, tm = upstream(ws, "train", cfg.run)
    recipe, tcfg, _, folder = load_run(ws, cfg.run, cfg.checkpoint, device=device)
    check_generation_length(recipe.lm.config, tcfg.prefix_len, cfg.max_new_tokens)  # before any work folder
    sha = file_sha256(folder / ck.WEIGHTS)
    inputs = [train_entry, {"kind": "value", "name": f"checkpoint:{folder.name}", "sha256": sha}]
    encoder, store = type(recipe).encoder_name(tcfg), None
    if encoder:
        inputs.append(upstream(ws, "embed", tcfg.dataset, encoder)[0])
        store = FeatureStore(ws.features_path(tcfg.dataset, encoder))
    p_entry, pm = upstream(ws, "prepare", tcfg.dataset)
    inputs.append(p_entry)
    records = load_records(ws.records_path(tcfg.dataset), cfg.split)
    if cfg.limit:
        records = records[: cfg.limit]
    if not records:  # the shared empty-result rule: never a preds.jsonl with 0 predictions
        from cxrgen.workspace.yields import check_yield
        check_yield(f"generate/{cfg.run}/{cfg.split}", 0, {}, unit="predictions",
                    default_fix=f"{ws.records_path(tcfg.dataset)} has no record in split {cfg.split!r}")
    if cfg.shuffle_features:
        records = shuffled(records, cfg.seed)
    root = (getattr(pm, "extra", None) or {}).get("root")
    ctx = DataContext(tokenizer=recipe.llm.tokenizer, max_len=tcfg.max_len, store=store,
                      image_root=Path(root) if root else None)
    return Source(recipe, tcfg, tm, folder, sha, inputs, ctx, records)


def plan(cfg: GenerateConfig, ws: Workspace, src: Source | None = None) -> dict:
    """The dry run as data: the run, split, checkpoint, number of studies and decoding settings."""
    if src is None:
        validate(cfg)
        cfg = cfg if cfg.run else replace(cfg, run=default_run(ws))
        src = load_source(cfg, ws, None)
    return {"run": cfg.run, "split": cfg.split, "checkpoint": str(src.folder), "records": len(src.records),
            "decoding": decoding(cfg)}


def run(cfg: GenerateConfig, *, ws: Workspace, force: bool = False, dry_run: bool = False):
    """Generate reports for one split; returns the Manifest (or, with ``dry_run``, what it would do)."""
    from cxrgen.models.runtime import Runtime
    from cxrgen.workspace.artifact import ArtifactBuild
    validate(cfg)
    if not cfg.run:
        cfg = replace(cfg, run=default_run(ws))
    rt = Runtime.create(cfg.device, "fp32")
    src = load_source(cfg, ws, rt.device)
    if dry_run:
        return plan(cfg, ws, src)
    key = output_split(cfg)
    build = ArtifactBuild(ws, "generate", (cfg.run, key), cfg, src.inputs, force=force, rank=rt.rank)
    m = build.up_to_date()
    if m is not None:
        log.info("generate/%s/%s is up to date (use --force to regenerate)", cfg.run, key)
        return m
    with build:
        rt.barrier()
        work = build.work_dir
        done = _read_done(work) if rt.is_main else {}
        rt.barrier()
        if not rt.is_main:
            done = _read_done(work, repair=False)
        todo = [r for r in src.records if r.id not in done]
        if done:
            log.info("resuming: %d of %d predictions already written", len(src.records) - len(todo), len(src.records))
        out = work / (FILES["preds"] if rt.world == 1 else f"preds.rank-{rt.rank}.jsonl")
        _decode(src, [todo[i] for i in dist.shard(len(todo), rt.rank, rt.world)], cfg, rt, out, len(done))
        rt.barrier()
        if not rt.is_main:
            rt.barrier()
            return None
        m = _commit(build, src, cfg, rt.world)
        rt.barrier()
    log.info("wrote %d predictions to generate/%s/%s/preds.jsonl", len(src.records), cfg.run, key)
    return m


def _decode(src: Source, mine: list, cfg: GenerateConfig, rt: Any, out_path: Path, done: int) -> None:
    """Append this rank's predictions to ``out_path`` batch by batch. Each chunk of ``CHUNK_BATCHES``
    batches is sorted by prompt length (little padding); ``_commit`` restores record order."""
    from cxrgen.utils.progress import progress
    recipe, chunk = src.recipe, cfg.batch_size * CHUNK_BATCHES
    with open(out_path, "a", encoding="utf-8") as f, \
            progress(f"generate {cfg.run}/{cfg.split}", total=len(src.records), unit="report",
                     completed=done) as bar:
        for c0 in range(0, len(mine), chunk):
            exs = sorted((recipe.example(r, src.ctx, with_targets=False) for r in mine[c0:c0 + chunk]),
                         key=recipe.generation_length)
            for b0 in range(0, len(exs), cfg.batch_size):
                part = exs[b0:b0 + cfg.batch_size]
                preds = generate_batch(recipe, recipe.collate(part, with_targets=False), cfg, rt.device)
                for e, pred in zip(part, preds):
                    f.write(json.dumps({"id": e["id"], "prediction": pred, "reference": e["reference"]},
                                       ensure_ascii=False) + "\n")
                f.flush()
                bar.advance(len(part) * rt.world)
                faults.reached("generate.batch")


def _commit(build: Any, src: Source, cfg: GenerateConfig, world: int) -> Any:
    """Rank 0: merge rows (and rank shards) in record order into preds.jsonl and commit."""
    from cxrgen.utils.io import write_jsonl
    work = build.work_dir
    rows = _read_done(work)
    missing = [r.id for r in src.records if r.id not in rows]
    if missing:
        raise InputError(f"generation finished without predictions for {len(missing)} studies "
                         f"(e.g. {missing[0]!r}); re-run the same command to resume")
    write_jsonl(work / FILES["preds"], (rows[r.id] for r in src.records))
    for p in work.glob("preds.rank-*.jsonl"):
        p.unlink()
    t = src.tcfg
    return build.commit([FILES["preds"]], counts={"predictions": len(src.records)},
                        extra={"model": {"mode": t.mode, "llm": t.llm, "llm_source": src.recipe.llm.source,
                                         "run": cfg.run, "train_fingerprint": src.train_manifest.fingerprint},
                               "checkpoint": {"folder": src.folder.name, "sha256": src.weights_sha256},
                               "decoding": decoding(cfg), "world_size": world})
