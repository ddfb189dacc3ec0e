"""`cxrgen train`: one trainer for every recipe (``--mode``), resumable and DDP-ready.

    records (prepare) + features.h5 (embed) → Recipe (mapper/projector/LoRA + LLM) → train/<run>/

The run folder is built in ``train/<run>.partial/`` (checkpoints, metrics.jsonl) and renamed into
place when training ends. ``--resume auto`` continues the newest step checkpoint of a partial run with
the same fingerprint exactly: weights, AdamW and scheduler state, RNG states and data position
(epoch, optimizer step), so the final weights equal those of an uninterrupted run.

Data order: epoch ``e`` is a permutation drawn from ``seed + e``; under DDP rank ``r`` takes every
``world``-th index (the permutation is padded by wrapping so ranks get equally many); each optimizer
step consumes ``grad_accum`` micro-batches of ``optim.batch_size`` per rank.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from cxrgen.config.base import to_yaml
from cxrgen.config.schema import TrainConfig
from cxrgen.errors import CheckpointError, ConfigError, InputError
from cxrgen.utils import dist
from cxrgen.workspace.layout import FILES, Workspace

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
    if issues:
        raise ConfigError("; ".join(issues))
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
class RecordDataset:
    """Records of one split → recipe examples; features are read row by row from the cache."""

    def __init__(self, records: list, recipe: Any, ctx: Any, *, train: bool):
        self.records, self.recipe, self.ctx, self.train = records, recipe, ctx, train

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        return self.recipe.example(self.records[i], self.ctx, train=self.train)


def epoch_batches(n: int, epoch: int, *, seed: int, batch_size: int, rank: int, world: int,
                  shuffle: bool = True) -> list[list[int]]:
    """This rank's micro-batches of one epoch (deterministic in seed and epoch)."""
    import torch
    if shuffle:
        g = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    if world > 1:
        per = math.ceil(n / world)
        order = (order * (1 + (per * world) // max(n, 1)))[: per * world]
        order = order[rank::world]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def to_device(batch: dict, device: Any) -> dict:
    import torch
    return {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}


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


def _lr_lambda(warmup: int, total: int, schedule: str):
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant" or total <= warmup:
            return 1.0
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t))) if schedule == "cosine" else max(0.0, 1 - t)
    return f


def _device(spec: str):
    import torch
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", dist.local_rank())
        return torch.device("cpu")
    from cxrgen.utils.device import require_available
    return torch.device(require_available(spec))


def _precision(cfg: TrainConfig, device) -> str:
    import torch
    if cfg.precision != "auto":
        return cfg.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _autocast(prec: str, device):
    import torch
    if prec == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if prec == "bf16" else torch.float16)


def _memory(device) -> int:
    import resource
    import sys

    import torch
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


# --- the run -----------------------------------------------------------------------------------------
def run(cfg: TrainConfig, *, ws: Workspace, force: bool = False, dry_run: bool = False,
        resume: str = "auto", echo: Any = None, resume_from_other: bool = False):
    """Train; returns the Manifest (or the dry-run report dict)."""
    cfg = validate(cfg)
    if dry_run:
        return dry_run_report(cfg)
    if resume not in ("auto", "never") and not Path(resume).is_dir():
        raise ConfigError(f"--resume {resume!r}: not auto, never or a checkpoint folder")
    from cxrgen.workspace.artifact import ArtifactBuild

    dist.init()
    rank, world = dist.rank(), dist.world_size()
    cls = recipe_class(cfg.mode)
    encoder = cls.encoder_name(cfg)
    inputs, store, splits = load_inputs(cfg, ws, encoder)
    if not splits["train"]:
        raise InputError(f"{ws.records_path(cfg.dataset)}: no records in split 'train'")
    _device(cfg.device)  # an unavailable device is an error before any work folder exists
    if resume not in ("auto", "never"):  # an explicit checkpoint is an input: checked, hashed, recorded
        from cxrgen.models.checkpoint import resume_entry
        inputs = inputs + [resume_entry(Path(resume), run=cfg.run, mode=cfg.mode, allow_other=resume_from_other)]
    build = ArtifactBuild(ws, "train", (cfg.run,), cfg, inputs, force=force,
                          resume=(resume == "auto"), rank=rank)
    done = build.up_to_date()
    if done is not None:
        if echo:
            echo(f"train/{cfg.run} is up to date (use --force to retrain)")
        return done
    with build:
        dist.barrier()  # rank 0 has prepared the work folder
        return _train(cfg, cls, build, store, splits, resume, rank, world, echo)


def _train(cfg: TrainConfig, cls, build, store, splits, resume: str, rank: int, world: int, echo):
    import random

    import numpy as np
    import torch

    from cxrgen.models import checkpoint as ck
    from cxrgen.models.llms import count_params
    from cxrgen.models.recipes.base import DataContext, check_same_mode
    from cxrgen.utils.progress import progress

    work = build.work_dir
    ckroot = work / "checkpoints"
    device = _device(cfg.device)
    prec = _precision(cfg, device)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    frozen_dtype = torch.bfloat16 if prec == "bf16" and device.type == "cuda" and cfg.mode == "prefix" else None
    recipe = cls.create(cfg, device=device, dtype=frozen_dtype, feature_dim=store.dim if store is not None else None)
    if cfg.grad_checkpointing and hasattr(recipe.lm, "gradient_checkpointing_enable"):
        recipe.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in recipe.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"mode {cfg.mode!r} has no trainable parameters")
    total_params, trainable_params = count_params(recipe)

    ctx = DataContext(tokenizer=recipe.llm.tokenizer, max_len=cfg.max_len, store=store,
                      image_root=splits.get("image_root"))
    train_ds = RecordDataset(splits["train"], recipe, ctx, train=True)
    val_ds = RecordDataset(splits["val"], recipe, ctx, train=True)
    o = cfg.optim
    n_micro = len(epoch_batches(len(train_ds), 0, seed=cfg.seed, batch_size=o.batch_size, rank=rank, world=world))
    steps_per_epoch = math.ceil(n_micro / o.grad_accum)
    total_steps = o.max_steps or steps_per_epoch * o.epochs

    opt = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(o.warmup_steps, total_steps, o.schedule))
    scaler = torch.amp.GradScaler(device.type) if prec == "fp16" else None

    # --- resume ------------------------------------------------------------------------------------
    start = 0
    src = Path(resume) if resume not in ("auto", "never") else (ck.find_latest(ckroot) if build.resumed or rank else None)
    if src is not None:
        check_same_mode(ck.read_adapter(src), cfg.mode, str(src))
        recipe.load_trainable_state_dict(ck.load_tensors(src), where=str(src))
        od = ck.load_optimizer(src)
        opt.load_state_dict(od["optimizer"])
        sched.load_state_dict(od["scheduler"])
        if scaler is not None and od.get("scaler"):
            scaler.load_state_dict(od["scaler"])
        st = ck.read_state(src)
        start = int(st["step"])
        rngs = st.get("rng") or []
        if rank < len(rngs):
            ck.set_rng_state(rngs[rank])
        if echo and rank == 0:
            echo(f"resuming train/{cfg.run} from {src.name} (step {start}/{total_steps})")
    metrics_path = work / FILES["metrics"]
    if rank == 0:
        _truncate_metrics(metrics_path, start)

    model = recipe
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(recipe, device_ids=[device.index] if device.type == "cuda" else None)

    def save_ckpt(step: int, folder: Path, with_optimizer: bool) -> None:
        rng = ck.rng_state()
        if world > 1:
            import torch.distributed as tdist
            gathered: list = [None] * world
            tdist.all_gather_object(gathered, rng)
            rngs = gathered
        else:
            rngs = [rng]
        if rank == 0:
            od = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
            if scaler is not None:
                od["scaler"] = scaler.state_dict()
            epoch = step // steps_per_epoch
            ck.save(folder, tensors=recipe.trainable_state_dict(), adapter=recipe.adapter_config(),
                    config_yaml=to_yaml(cfg), optimizer=od if with_optimizer else None,
                    state={"step": step, "epoch": epoch, "step_in_epoch": step - epoch * steps_per_epoch,
                           "total_steps": total_steps, "world_size": world, "rng": rngs})
        dist.barrier()

    def validate_loss() -> float | None:
        if not len(val_ds):
            return None
        recipe.eval()
        tot = torch.zeros(2, dtype=torch.float64)
        with torch.no_grad():
            for idx in epoch_batches(len(val_ds), 0, seed=0, batch_size=o.batch_size, rank=rank, world=world,
                                     shuffle=False):
                batch = to_device(recipe.collate([val_ds[i] for i in idx], train=True), device)
                with _autocast(prec, device):
                    loss = recipe(batch)["loss"]
                ntok = float((batch["labels"] != -100).sum())
                tot += torch.tensor([float(loss) * ntok, ntok], dtype=torch.float64)
        if world > 1:
            import torch.distributed as tdist
            tdist.all_reduce(tot)
        recipe.train()
        return float(tot[0] / tot[1]) if tot[1] else None

    # --- loop ------------------------------------------------------------------------------------------
    recipe.train()
    step = start
    window_tokens, window_t0, last_loss, val_loss = 0, time.perf_counter(), float("nan"), None
    with progress(f"train {cfg.run}", total=total_steps, unit="step", completed=start) as bar:
        while step < total_steps:
            epoch, in_epoch = divmod(step, steps_per_epoch)
            batches = epoch_batches(len(train_ds), epoch, seed=cfg.seed, batch_size=o.batch_size, rank=rank, world=world)
            batches = batches[in_epoch * o.grad_accum:]
            loader = torch.utils.data.DataLoader(
                train_ds, batch_sampler=batches, num_workers=cfg.workers,
                collate_fn=lambda ex: recipe.collate(ex, train=True), persistent_workers=False)
            it = iter(loader)
            while step < total_steps and in_epoch < steps_per_epoch:
                group = []
                for _ in range(o.grad_accum):
                    try:
                        group.append(next(it))
                    except StopIteration:
                        break
                if not group:
                    break
                loss_sum = 0.0
                for k, b in enumerate(group):
                    b = to_device(b, device)
                    sync = k == len(group) - 1
                    cm = model.no_sync() if (world > 1 and not sync) else contextlib.nullcontext()
                    with cm:
                        with _autocast(prec, device):
                            out = model(b)
                            loss = out["loss"] / len(group)
                        (scaler.scale(loss) if scaler else loss).backward()
                    loss_sum += float(loss.detach())
                    window_tokens += int(b["attention_mask"].sum())
                ck.require_finite_loss(loss_sum, step + 1, cfg.run, ckroot)
                if scaler:
                    scaler.unscale_(opt)
                if o.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(params, o.max_grad_norm)
                if scaler:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                lr = sched.get_last_lr()[0]
                sched.step()
                opt.zero_grad(set_to_none=True)
                step += 1
                in_epoch += 1
                last_loss = loss_sum
                if world > 1:
                    import torch.distributed as tdist
                    t = torch.tensor([last_loss], dtype=torch.float64)
                    tdist.all_reduce(t)
                    last_loss = float(t[0]) / world
                bar.advance(1)
                end_of_epoch = in_epoch == steps_per_epoch or step == total_steps
                val_now = (cfg.val_every and step % cfg.val_every == 0) or (not cfg.val_every and end_of_epoch)
                val_loss = validate_loss() if val_now else None
                if rank == 0 and (step % cfg.log_every == 0 or val_loss is not None or step == total_steps):
                    dt = max(time.perf_counter() - window_t0, 1e-9)
                    row = {"step": step, "epoch": epoch, "loss": round(last_loss, 6), "lr": lr,
                           "tokens_per_s": round(window_tokens * world / dt, 1), "memory_bytes": _memory(device)}
                    if val_loss is not None:
                        row["val_loss"] = round(val_loss, 6)
                    _append_jsonl(metrics_path, row)
                    window_tokens, window_t0 = 0, time.perf_counter()
                if step % cfg.save_every == 0 and step < total_steps:
                    save_ckpt(step, ckroot / ck.step_name(step), True)
                    if rank == 0:
                        ck.set_latest(ckroot, ck.step_name(step))
                        ck.prune(ckroot, cfg.keep_last)
    # --- final ----------------------------------------------------------------------------------------
    save_ckpt(step, work / "final", False)
    if rank != 0:
        dist.barrier()
        return None
    if not metrics_path.exists():
        _append_jsonl(metrics_path, {"step": step, "loss": round(last_loss, 6)})
    outputs = [FILES["config"], FILES["metrics"]] + [f"final/{f}" for f in (ck.WEIGHTS, ck.ADAPTER, ck.CONFIG, ck.STATE)]
    if hasattr(recipe, "export"):  # e.g. --mode lm also writes final/hf/ (save_pretrained) for --llm
        outputs += [f"final/{f}" for f in recipe.export(work / "final")]
    m = build.commit(outputs, counts={"steps": step, "train_examples": len(train_ds), "val_examples": len(val_ds),
                                      "world_size": world},
                     extra={"trainable_params": trainable_params, "total_params": total_params,
                            "final_loss": last_loss, "val_loss": val_loss, "llm_source": recipe.llm.source,
                            "encoder": cls.encoder_name(cfg), "precision": prec})
    dist.barrier()
    if echo:
        echo(f"trained train/{cfg.run}: {step} steps, loss {last_loss:.4f}"
             + (f", val loss {val_loss:.4f}" if val_loss is not None else ""))
    return m


def _append_jsonl(path: Path, row: dict) -> None:
    import json
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep only rows up to the resumed step (rows logged after the last checkpoint are re-made)."""
    import json
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except ValueError:
            break  # a torn last line after kill -9
    from cxrgen.utils.io import atomic_write_text
    atomic_write_text(path, "".join(k + "\n" for k in keep))


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
        avail = ["final"] + sorted(p.name for p in (root / "checkpoints").glob("step-*"))
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
