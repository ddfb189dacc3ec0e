"""`cxrgen train`: one trainer for every recipe (``--mode``), resumable and DDP-ready.

    records (prepare) + features.h5 (embed) → Recipe (mapper/projector/LoRA + LLM) → train/<run>/

The run folder is built in ``train/<run>.partial/`` (checkpoints, metrics.jsonl) and renamed into
place when training ends. ``--resume auto`` continues the newest step checkpoint of a partial run with
the same fingerprint exactly: weights, AdamW and scheduler state, RNG states and data position
(epoch, optimizer step), so the final weights equal those of an uninterrupted run.

The loop itself (data order, steps, validation, checkpoints) is :class:`cxrgen.models.trainer.Trainer`;
device, precision and DDP come from :class:`cxrgen.models.runtime.Runtime`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from cxrgen.config.schema import TrainConfig
from cxrgen.errors import CheckpointError, ConfigError, InputError
from cxrgen.workspace.layout import Workspace

log = logging.getLogger(__name__)
_BAD = re.compile(r"[^A-Za-z0-9._+-]+")


# --- config ------------------------------------------------------------------------------------
def default_run_name(cfg: TrainConfig) -> str:
    llm = _BAD.sub("_", Path(cfg.llm).name if "/" in cfg.llm and Path(cfg.llm).exists() else cfg.llm)
    return _BAD.sub("_", f"{cfg.mode}-{llm}-{cfg.dataset}").strip("_.") or "run"


def validate(cfg: TrainConfig) -> TrainConfig:
    """Collect every problem of the config and raise once; returns the config with the run name filled."""
    from cxrgen.models.catalog import MODES
    MODES.get(cfg.mode)  # unknown mode: did-you-mean error
    o = cfg.optim
    issues = []
    for key, v in (("optim.batch_size", o.batch_size), ("optim.grad_accum", o.grad_accum),
                   ("optim.epochs", o.epochs), ("max_len", cfg.max_len), ("prefix_len", cfg.prefix_len),
                   ("clip_len", cfg.clip_len), ("save_every", cfg.save_every), ("log_every", cfg.log_every)):
        if v < 1:
            issues.append(f"{key}={v} must be ≥ 1")
    for key, v in (("optim.lr", o.lr), ("optim.weight_decay", o.weight_decay), ("optim.warmup_steps", o.warmup_steps),
                   ("optim.max_steps", o.max_steps), ("val_every", cfg.val_every), ("optim.max_grad_norm", o.max_grad_norm)):
        if v < 0:
            issues.append(f"{key}={v} must be ≥ 0")
    d = cfg.select_decoding
    if d.beams < 1 or d.max_new_tokens < 1 or not 0 <= d.min_new_tokens <= d.max_new_tokens:
        issues.append(f"select_decoding: beams={d.beams} and max_new_tokens={d.max_new_tokens} must be ≥ 1, "
                      f"min_new_tokens={d.min_new_tokens} in [0, max_new_tokens]")
    if issues:
        raise ConfigError("; ".join(issues))
    from cxrgen.models.selection import parse_select
    parse_select(cfg.select)   # one line naming the allowed metrics
    if not cfg.run:
        cfg = replace(cfg, run=default_run_name(cfg))
    return cfg


def recipe_class(mode: str):
    from cxrgen.models.catalog import MODES
    return MODES.get(mode).load()


# --- dry run -------------------------------------------------------------------------------------
def dry_run_report(cfg: TrainConfig) -> dict:
    """Parameters per component and a memory estimate, built on the meta device (no download)."""
    from cxrgen.models.llms import count_params
    cls = recipe_class(cfg.mode)
    recipe = cls.create(cfg, meta=True, feature_dim=None)
    comps = {}
    for name, mod in recipe.components().items():
        total, trainable = count_params(mod)
        comps[name] = {"params": total, "trainable": trainable}
    total, trainable = count_params(recipe)
    frozen = total - trainable
    lm_cfg = recipe.lm.config
    d = recipe.llm.hidden_size
    layers = getattr(lm_cfg, "num_hidden_layers", None) or getattr(lm_cfg, "n_layer", 0)
    vocab = getattr(lm_cfg, "vocab_size", 0)
    seq = cfg.max_len + cfg.prefix_len + 32
    b = cfg.optim.batch_size
    act_bytes = 2  # bf16 activations on GPU
    # frozen weights in bf16; trainable in fp32 + grad + 2 AdamW moments; activations ≈ 34·s·b·d per layer
    # (Korthikanti et al. 2022, no recomputation) + logits (fp32) — a rough planning figure
    weights = frozen * 2 + trainable * 4
    optim_bytes = trainable * (4 + 8)
    activ = layers * 34 * seq * b * d * act_bytes // 2 + b * seq * vocab * 4 * 2
    if cfg.grad_checkpointing:
        activ = layers * 2 * seq * b * d * act_bytes + b * seq * vocab * 4 * 2
    gen_kv = 2 * layers * seq * d * act_bytes * 16  # KV cache for a batch of 16
    gib = 1024 ** 3
    return {
        "mode": cfg.mode, "llm": cfg.llm, "run": cfg.run, "encoder": cls.encoder_name(cfg),
        "reads": {"features": f"embed/{cfg.dataset}/{cls.encoder_name(cfg)}", "scores": f"embed/{cfg.dataset}/{cls.encoder_name(cfg)} (/scores)",
                  "images": f"images under the root of prepare/{cfg.dataset}",
                  "none": f"the report text of prepare/{cfg.dataset}"}[cls.reads],
        "components": comps, "trainable_params": trainable, "total_params": total,
        "memory_gib": {"train": round((weights + optim_bytes + activ) / gib, 2),
                       "inference": round((total * 2 + gen_kv) / gib, 2),
                       "assumptions": f"bf16 frozen weights, fp32 trainable + AdamW, batch {b}, "
                                      f"sequence {seq}, grad_checkpointing={cfg.grad_checkpointing}"},
    }


# --- data -------------------------------------------------------------------------------------------
def load_inputs(cfg: TrainConfig, ws: Workspace, encoder: str | None) -> tuple[list[dict], Any, dict]:
    """Upstream manifest entries, the feature store (or None) and records of train/val."""
    from cxrgen.data.features import FeatureStore
    from cxrgen.data.records import load_records
    from cxrgen.workspace.artifact import upstream
    inputs = []
    entry, pm = upstream(ws, "prepare", cfg.dataset)
    inputs.append(entry)
    store = None
    if encoder:
        entry, _ = upstream(ws, "embed", cfg.dataset, encoder)
        inputs.append(entry)
        store = FeatureStore(ws.features_path(cfg.dataset, encoder))
    recs = load_records(ws.records_path(cfg.dataset))
    splits = {s: [r for r in recs if r.split == s] for s in ("train", "val", "test")}
    root = (pm.extra or {}).get("root") if hasattr(pm, "extra") else None
    splits["image_root"] = Path(root) if root else None
    return inputs, store, splits


def plan(cfg: TrainConfig, ws: Workspace | None = None) -> dict:
    """The dry run as data: components and parameter counts, what the run reads, a memory estimate."""
    return dry_run_report(validate(cfg))


# --- the run -----------------------------------------------------------------------------------------
def run(cfg: TrainConfig, *, ws: Workspace, force: bool = False, dry_run: bool = False,
        resume: str = "auto", resume_from_other: bool = False):
    """Train; returns the Manifest (or the dry-run report dict)."""
    cfg = validate(cfg)
    if dry_run:
        return plan(cfg, ws)
    if resume not in ("auto", "never") and not Path(resume).is_dir():
        raise ConfigError(f"--resume {resume!r}: not auto, never or a checkpoint folder")
    from cxrgen.models.runtime import Runtime
    from cxrgen.workspace.artifact import ArtifactBuild
    rt = Runtime.create(cfg.device, cfg.precision)
    cls = recipe_class(cfg.mode)
    encoder = cls.encoder_name(cfg)
    inputs, store, splits = load_inputs(cfg, ws, encoder)
    if not splits["train"]:
        raise InputError(f"{ws.records_path(cfg.dataset)}: no records in split 'train'")
    if resume not in ("auto", "never"):  # an explicit checkpoint is an input: checked, hashed, recorded
        from cxrgen.models.checkpoint import resume_entry
        inputs = inputs + [resume_entry(Path(resume), run=cfg.run, mode=cfg.mode, allow_other=resume_from_other)]
    build = ArtifactBuild(ws, "train", (cfg.run,), cfg, inputs, force=force,
                          resume=(resume == "auto"), rank=rt.rank)
    done = build.up_to_date()
    if done is not None:
        log.info("train/%s is up to date (use --force to retrain)", cfg.run)
        return done
    with build:
        rt.barrier()  # rank 0 has prepared the work folder
        return _train(cfg, cls, build, store, splits, resume, rt)


def _train(cfg: TrainConfig, cls, build, store, splits, resume: str, rt):
    from cxrgen.models import checkpoint as ck
    from cxrgen.models.llms import count_params
    from cxrgen.models.recipes.base import DataContext
    from cxrgen.models.trainer import RecordDataset, Trainer, seed_everything

    seed_everything(cfg.seed)
    recipe = cls.create(cfg, device=rt.device, feature_dim=store.dim if store is not None else None)
    total_params, trainable_params = count_params(recipe)
    ctx = DataContext(tokenizer=recipe.llm.tokenizer, max_len=cfg.max_len, store=store,
                      image_root=splits.get("image_root"))
    keeper = None
    if cfg.select:
        from cxrgen.models.selection import BestKeeper
        keeper = BestKeeper(cfg, recipe, splits["val"], ctx)
    trainer = Trainer(cfg, recipe, rt, build.work_dir, RecordDataset(splits["train"], recipe, ctx),
                      RecordDataset(splits["val"], recipe, ctx), keeper=keeper)
    if resume not in ("auto", "never"):
        src = Path(resume)
    else:
        src = ck.find_latest(trainer.ckroot) if build.resumed or not rt.is_main else None
    start = trainer.restore(src)
    if src is not None and rt.is_main:
        log.info("resuming train/%s from %s (step %d/%d)", cfg.run, src.name, start, trainer.total_steps)
    trainer.fit()
    done = trainer.finish()
    if not rt.is_main:
        rt.barrier()
        return None
    m = build.commit(done["outputs"],
                     counts={"steps": done["steps"], "train_examples": len(trainer.train_ds),
                             "val_examples": len(trainer.val_ds), "world_size": rt.world},
                     extra={"trainable_params": trainable_params, "total_params": total_params,
                            "final_loss": done["final_loss"], "val_loss": done["val_loss"],
                            "llm_source": recipe.llm.source, "encoder": cls.encoder_name(cfg),
                            "precision": rt.precision, **({"best": done["best"]} if "best" in done else {})})
    rt.barrier()
    val = done["val_loss"]
    log.info("trained train/%s: %d steps, loss %.4f%s", cfg.run, done["steps"], done["final_loss"],
             f", val loss {val:.4f}" if val is not None else "")
    return m


# --- used by generate and the recipes ---------------------------------------------------------------
def load_run(ws: Workspace, run: str, checkpoint: str = "final", *, device: Any = None):
    """(recipe with trained weights, TrainConfig, train manifest, checkpoint folder) of a finished run."""
    from cxrgen.config.base import load_config
    from cxrgen.models import checkpoint as ck
    from cxrgen.workspace.artifact import upstream
    _, m = upstream(ws, "train", run)
    root = ws.artifact_dir("train", run)
    if checkpoint == "latest":
        p = root / "checkpoints" / ck.LATEST
        checkpoint = f"checkpoints/{p.read_text().strip()}" if p.is_file() else "final"
    elif checkpoint.startswith("step-"):
        checkpoint = f"checkpoints/{checkpoint}"
    folder = root / checkpoint
    if not folder.is_dir():
        avail = ["final"] + (["best"] if (root / "best").is_dir() else [])
        avail += sorted(p.name for p in (root / "checkpoints").glob("step-*"))
        if checkpoint == "best":
            raise CheckpointError(f"{folder}: run {run!r} kept no best checkpoint; train it with "
                                  "select=val:bleu_4+cider (available: " + ", ".join(avail) + ")")
        raise CheckpointError(f"{folder}: no such checkpoint; available: {', '.join(avail)}")
    cfg = load_config(TrainConfig, folder / ck.CONFIG)
    adapter = ck.read_adapter(folder)
    from cxrgen.models.recipes.base import check_same_mode
    check_same_mode(adapter, cfg.mode, str(folder))
    cls = recipe_class(cfg.mode)
    recipe = cls.create(cfg, device=device)
    recipe.load_trainable_state_dict(ck.load_tensors(folder), where=str(folder))
    recipe.eval()
    return recipe, cfg, m, folder
