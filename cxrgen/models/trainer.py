"""The training loop of every recipe, in small named steps: restore, fit (step over micro-batches),
evaluate, save, finish.

    trainer = Trainer(cfg, recipe, runtime, work_dir, train_ds, val_ds)
    trainer.restore(checkpoint_folder_or_None)   # weights, AdamW, scheduler, scaler, RNG, data position
    trainer.fit()                                # until optim.max_steps or optim.epochs
    summary = trainer.finish()                   # final/ + what the manifest records

Data order: epoch ``e`` is a permutation drawn from ``seed + e``; under DDP rank ``r`` takes every
``world``-th index (the permutation is padded by wrapping so ranks get equally many); each optimizer
step consumes ``grad_accum`` micro-batches of ``optim.batch_size`` per rank. A checkpoint at step
``s`` therefore fixes the data position (epoch ``s // steps_per_epoch``, micro-batch
``(s % steps_per_epoch) · grad_accum``), and a resumed run equals an uninterrupted one.

The loss and token counters stay on the device between logged steps: the host reads them (and ranks
all-reduce them) only every ``log_every`` steps, so a GPU never waits for the host per micro-batch.

``evaluate()`` returns a dict of validation metrics (``val_loss``: token-weighted mean over the val
split, through a DataLoader like training); callables in ``evaluators`` (``fn(trainer) -> dict``)
add their own metrics to the same row of ``metrics.jsonl`` and to the manifest.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any, Callable

from cxrgen.errors import ConfigError
from cxrgen.utils import faults
from cxrgen.workspace.layout import FILES


class RecordDataset:
    """Records of one split → recipe examples (features are read from the cache in the DataLoader)."""

    def __init__(self, records: list, recipe: Any, ctx: Any, *, with_targets: bool = True):
        self.records, self.recipe, self.ctx, self.with_targets = records, recipe, ctx, with_targets

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        return self.recipe.example(self.records[i], self.ctx, with_targets=self.with_targets)


def epoch_batches(n: int, epoch: int, *, seed: int, batch_size: int, rank: int, world: int,
                  shuffle: bool = True) -> list[list[int]]:
    """This rank's micro-batches (lists of dataset positions) of one epoch, deterministic in seed and epoch."""
    import torch
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    else:
        order = list(range(n))
    if world > 1:
        per = math.ceil(n / world)
        order = (order * (1 + (per * world) // max(n, 1)))[: per * world]
        order = order[rank::world]
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def lr_lambda(warmup: int, total: int, schedule: str) -> Callable[[int], float]:
    """LR multiplier: linear warm-up over ``warmup`` steps, then constant, cosine or linear decay to 0."""
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant" or total <= warmup:
            return 1.0
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, t))) if schedule == "cosine" else max(0.0, 1 - t)
    return f


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Optimises ``recipe``'s trainable parameters; writes checkpoints and metrics.jsonl under ``work``."""

    def __init__(self, cfg: Any, recipe: Any, rt: Any, work: Path, train_ds: Any, val_ds: Any, *,
                 evaluators: list[Callable[["Trainer"], dict]] | None = None, keeper: Any = None):
        import torch
        self.cfg, self.recipe, self.rt, self.work = cfg, recipe, rt, Path(work)
        self.train_ds, self.val_ds, self.evaluators = train_ds, val_ds, list(evaluators or [])
        # keeper: a cxrgen.models.selection.BestKeeper (select=val:...): an evaluator that also keeps best/
        self.keeper = keeper
        if keeper is not None:
            self.evaluators.append(keeper)
        if cfg.grad_checkpointing and hasattr(recipe.lm, "gradient_checkpointing_enable"):
            recipe.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.params = [p for p in recipe.parameters() if p.requires_grad]
        if not self.params:
            raise ConfigError(f"mode {cfg.mode!r} has no trainable parameters")
        o = cfg.optim
        n_micro = len(self._batches(0))
        self.steps_per_epoch = math.ceil(n_micro / o.grad_accum)
        self.total_steps = o.max_steps or self.steps_per_epoch * o.epochs
        self.opt = torch.optim.AdamW(self.params, lr=o.lr, weight_decay=o.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(o.warmup_steps, self.total_steps,
                                                                             o.schedule))
        self.scaler = rt.grad_scaler()
        self.model = recipe
        self.step = 0
        self.metrics_path = self.work / FILES["metrics"]
        self.last_loss, self.last_eval, self.lr = float("nan"), {}, o.lr
        # on-device counters, read every log_every steps: [loss of the last step, tokens since the last row]
        self._loss = torch.zeros((), dtype=torch.float64, device=rt.device)
        self._tokens = torch.zeros((), dtype=torch.float64, device=rt.device)
        # first optimizer step (1-based) whose loss was not finite, 0: none; kept on the device (no sync per step)
        self._first_bad = torch.zeros((), dtype=torch.int64, device=rt.device)
        self._t0 = time.perf_counter()

    @property
    def ckroot(self) -> Path:
        return self.work / "checkpoints"

    # --- data ------------------------------------------------------------------------------------
    def _batches(self, epoch: int) -> list[list[int]]:
        return epoch_batches(len(self.train_ds), epoch, seed=self.cfg.seed, batch_size=self.cfg.optim.batch_size,
                             rank=self.rt.rank, world=self.rt.world)

    def _loader(self, ds: Any, batches: list[list[int]], generator: Any = None):
        import torch
        return torch.utils.data.DataLoader(ds, batch_sampler=batches, num_workers=self.cfg.workers,
                                           collate_fn=functools.partial(self.recipe.collate, with_targets=True),
                                           persistent_workers=False, generator=generator,
                                           pin_memory=self.rt.device.type == "cuda")  # non_blocking copies

    def _groups(self, epoch: int, in_epoch: int):
        """Lists of ``grad_accum`` collated micro-batches from optimizer step ``in_epoch`` of ``epoch`` on."""
        ga = self.cfg.optim.grad_accum
        it = iter(self._loader(self.train_ds, self._batches(epoch)[in_epoch * ga:]))
        while group := list(itertools.islice(it, ga)):
            yield group

    # --- steps ----------------------------------------------------------------------------------------
    def restore(self, src: Path | None) -> int:
        """Continue from checkpoint folder ``src`` (None: a fresh start); returns the step reached."""
        from cxrgen.models import checkpoint as ck
        from cxrgen.models.recipes.base import check_same_mode
        if src is not None:
            check_same_mode(ck.read_adapter(src), self.cfg.mode, str(src))
            self.recipe.load_trainable_state_dict(ck.load_tensors(src), where=str(src))
            od = ck.load_optimizer(src)
            self.opt.load_state_dict(od["optimizer"])
            self.sched.load_state_dict(od["scheduler"])
            if self.scaler is not None and od.get("scaler"):
                self.scaler.load_state_dict(od["scaler"])
            st = ck.read_state(src)
            self.step = int(st["step"])
            rngs = st.get("rng") or []
            if self.rt.rank < len(rngs):
                ck.set_rng_state(rngs[self.rt.rank])
        if self.rt.is_main:
            truncate_metrics(self.metrics_path, self.step)
        if self.keeper is not None:
            self.keeper.restore(self.work, self.rt.is_main)
            self.rt.barrier()
        return self.step

    def fit(self) -> None:
        """Optimizer steps until ``total_steps``, with validation, metrics rows and checkpoints between."""
        from cxrgen.utils.progress import progress
        self.model = self.rt.wrap(self.recipe)
        self.recipe.train()
        with progress(f"train {self.cfg.run}", total=self.total_steps, unit="step", completed=self.step) as bar:
            while self.step < self.total_steps:
                epoch, in_epoch = divmod(self.step, self.steps_per_epoch)
                for group in self._groups(epoch, in_epoch):
                    self.train_step(group)
                    bar.advance(1)
                    end_of_epoch = self.step % self.steps_per_epoch == 0 or self.step == self.total_steps
                    self._after_step(epoch, end_of_epoch)
                    faults.reached("train.step")
                    if end_of_epoch:
                        break

    def train_step(self, group: list[dict]) -> None:
        """One optimizer step over ``group`` (micro-batches); DDP all-reduces gradients on the last only."""
        import torch
        rt, loss_sum = self.rt, torch.zeros((), dtype=torch.float64, device=self.rt.device)
        for k, b in enumerate(group):
            b = rt.to_device(b)
            with rt.no_sync(self.model, last=k == len(group) - 1):
                with rt.autocast():
                    loss = self.model(b)["loss"] / len(group)
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            loss_sum += loss.detach().double()
            self._tokens += b["attention_mask"].sum()
        if self.scaler:
            self.scaler.unscale_(self.opt)
        if self.cfg.optim.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.max_grad_norm)
        if self.scaler:
            self.scaler.step(self.opt)
            self.scaler.update()
        else:
            self.opt.step()
        self.lr = self.sched.get_last_lr()[0]
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        self._loss = loss_sum
        self._first_bad = torch.where((self._first_bad == 0) & ~torch.isfinite(loss_sum), self.step + 1,
                                      self._first_bad)
        self.step += 1

    def _after_step(self, epoch: int, end_of_epoch: bool) -> None:
        cfg, step = self.cfg, self.step
        if step % cfg.log_every == 0 or step % cfg.save_every == 0 or step == self.total_steps or end_of_epoch:
            # before anything is logged or saved: weights after a non-finite loss are never checkpointed
            import torch

            from cxrgen.models.checkpoint import require_finite_loss
            bad = self._first_bad.double()  # every rank stops together: [ranks that diverged, sum of their steps]
            n, steps = self.rt.all_reduce_sum(torch.stack([(bad > 0).double(), bad])).tolist()
            require_finite_loss(round(steps / n) if n else 0, cfg.run, self.ckroot)
        val_now = (cfg.val_every and step % cfg.val_every == 0) or (not cfg.val_every and end_of_epoch)
        self.last_eval = self.evaluate() if val_now else {}
        if step % cfg.log_every == 0 or self.last_eval or step == self.total_steps:
            self.log(epoch)
        if self.keeper is not None and self.last_eval:
            self.keeper.after_eval(self, self.last_eval)
        if step % cfg.save_every == 0 and step < self.total_steps:
            self.save_step()

    def evaluate(self) -> dict[str, float]:
        """Validation metrics (every rank takes part): ``val_loss`` plus what ``evaluators`` return;
        ``{}`` when the val split is empty."""
        if not len(self.val_ds):
            return {}
        out = {}
        loss = self.validation_loss()
        if loss is not None:
            out["val_loss"] = loss
        for fn in self.evaluators:
            out.update(fn(self))
        return out

    def validation_loss(self) -> float | None:
        """Mean loss per target token over the val split (each rank a shard, summed over ranks)."""
        import torch

        from cxrgen.models.recipes.base import IGNORE
        n, rt = len(self.val_ds), self.rt
        batches = epoch_batches(n, 0, seed=0, batch_size=self.cfg.optim.batch_size, rank=rt.rank,
                                world=rt.world, shuffle=False)
        tot = torch.zeros(2, dtype=torch.float64, device=rt.device)
        self.recipe.eval()
        with torch.no_grad():
            # its own generator: the loader's seed draw must not move the training RNG stream
            for batch in self._loader(self.val_ds, batches, torch.Generator().manual_seed(0)):
                batch = rt.to_device(batch)
                with rt.autocast():
                    loss = self.recipe(batch)["loss"]
                ntok = (batch["labels"] != IGNORE).sum().double()
                tot += torch.stack([loss.detach().double() * ntok, ntok])
        rt.all_reduce_sum(tot)
        self.recipe.train()
        total, count = tot.tolist()
        return total / count if count else None

    def log(self, epoch: int) -> None:
        """Read the device counters (all ranks reduce them) and append one row to metrics.jsonl."""
        import torch
        t = self.rt.all_reduce_sum(torch.stack([self._loss, self._tokens]))
        loss, tokens = t.tolist()
        self.last_loss = loss / self.rt.world
        if self.rt.is_main:
            dt = max(time.perf_counter() - self._t0, 1e-9)
            row = {"step": self.step, "epoch": epoch, "loss": round(self.last_loss, 6), "lr": self.lr,
                   "tokens_per_s": round(tokens / dt, 1), "memory_bytes": self.rt.peak_memory()}
            row.update({k: round(v, 6) for k, v in self.last_eval.items()})
            append_jsonl(self.metrics_path, row)
        self._tokens.zero_()
        self._t0 = time.perf_counter()

    def save(self, folder: Path, *, with_optimizer: bool) -> None:
        """Trainable tensors (+ AdamW/scheduler/scaler state, data position, every rank's RNG) to ``folder``."""
        from cxrgen.config.base import to_yaml
        from cxrgen.models import checkpoint as ck
        rngs = self.rt.all_gather_object(ck.rng_state())
        if self.rt.is_main:
            od = {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict()}
            if self.scaler is not None:
                od["scaler"] = self.scaler.state_dict()
            epoch = self.step // self.steps_per_epoch
            ck.save(folder, tensors=self.recipe.trainable_state_dict(), adapter=self.recipe.adapter_config(),
                    config_yaml=to_yaml(self.cfg), optimizer=od if with_optimizer else None,
                    state={"step": self.step, "epoch": epoch, "step_in_epoch": self.step - epoch * self.steps_per_epoch,
                           "total_steps": self.total_steps, "world_size": self.rt.world, "rng": rngs})
        self.rt.barrier()

    def save_step(self) -> None:
        """``checkpoints/step-N`` with optimizer state; move ``latest``; keep the newest ``keep_last``."""
        from cxrgen.models import checkpoint as ck
        self.save(self.ckroot / ck.step_name(self.step), with_optimizer=True)
        if self.rt.is_main:
            ck.set_latest(self.ckroot, ck.step_name(self.step))
            ck.prune(self.ckroot, self.cfg.keep_last)

    def finish(self) -> dict:
        """Write ``final/`` (+ the recipe's ``export``); returns outputs and the numbers for the manifest."""
        from cxrgen.models import checkpoint as ck
        self.save(self.work / "final", with_optimizer=False)
        if not self.rt.is_main:
            return {}
        if not self.metrics_path.exists():
            append_jsonl(self.metrics_path, {"step": self.step, "loss": round(self.last_loss, 6)})
        outputs = [FILES["config"], FILES["metrics"]] + [f"final/{f}" for f in (ck.WEIGHTS, ck.ADAPTER, ck.CONFIG,
                                                                                 ck.STATE)]
        outputs += [f"final/{f}" for f in self.recipe.export(self.work / "final")]
        if self.keeper is not None:
            outputs += self.keeper.outputs(self.work)
        return {"outputs": outputs, "steps": self.step, "final_loss": self.last_loss,
                "val_loss": self.last_eval.get("val_loss"), "eval": dict(self.last_eval),
                **({"best": {"step": self.keeper.best_step, "value": self.keeper.best_value,
                             "rule": self.cfg.select}} if self.keeper is not None else {})}


def append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def truncate_metrics(path: Path, step: int) -> None:
    """Keep only rows up to the resumed step (rows logged after the last checkpoint are made again)."""
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
