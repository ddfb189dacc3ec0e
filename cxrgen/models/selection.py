"""Validation-metric checkpoint selection: ``train select=val:bleu_4+cider``.

R2GenGPT's released code (wang-zhanyu/R2GenGPT, ``models/R2GenGPT.py`` ``validation_epoch_end``)
generates the validation reports every epoch, scores them, and keeps the checkpoint with the best
``0.5·BLEU-4 + 0.5·CIDEr``, which it then tests. cxrgen does the same at every validation
(``val_every`` steps, or each epoch end):

* the val split is decoded with ``select_decoding`` (beams, lengths, penalties; the setting's test
  decoding) — each rank its shard, gathered, so every rank scores the same texts and agrees;
* references are cut to ``select_decoding.truncate_references`` tokens when set (R2GenGPT: max_length);
* the named metrics (pycocoevalcap BLEU-n, ROUGE-L, CIDEr; METEOR needs a JVM and is not offered)
  are averaged with equal weights: ``bleu_4+cider`` is R2GenGPT's 0.5·BLEU-4 + 0.5·CIDEr;
* a strictly better value saves the weights to ``best/`` beside ``final/`` (``best/state.json``
  holds the step and the value); ``generate --checkpoint best`` uses it.

Crash safety: ``best/`` is replaced by a swap (``best.new`` written completely, ``best`` → ``best.old``,
``best.new`` → ``best``, ``best.old`` removed). A run killed anywhere in between resumes from its
last step checkpoint; :meth:`BestKeeper.restore` first puts back a complete ``best/`` (the old one if
the swap was cut) and drops the unfinished new one, and the replayed steps validate again, so the
resumed run ends with the ``best/`` an uninterrupted run writes.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

from cxrgen.errors import ConfigError

METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider")
BEST = "best"


def parse_select(spec: str) -> list[str]:
    """``"val:bleu_4+cider"`` → ``["bleu_4", "cider"]``; ``""`` → ``[]`` (no selection). ConfigError if bad."""
    if not spec:
        return []
    source, _, names = spec.partition(":")
    metrics = [m.strip() for m in names.split("+") if m.strip()]
    bad = [m for m in metrics if m not in METRICS]
    if source != "val" or not metrics or bad:
        raise ConfigError(f"select={spec!r}: use val:<metric>[+<metric>...] with metrics from {', '.join(METRICS)} "
                          "(e.g. select=val:bleu_4+cider, R2GenGPT's rule)")
    return metrics


class BestKeeper:
    """Evaluator (``fn(trainer) -> dict``) that generates on the val split, scores it, and keeps ``best/``."""

    def __init__(self, cfg: Any, recipe: Any, val_records: list, ctx: Any):
        from cxrgen.config.schema import GenerateConfig
        self.cfg, self.recipe, self.records, self.ctx = cfg, recipe, val_records, ctx
        self.metrics = parse_select(cfg.select)
        d = cfg.select_decoding
        self.decoding = GenerateConfig(beams=d.beams, max_new_tokens=d.max_new_tokens, min_new_tokens=d.min_new_tokens,
                                       repetition_penalty=d.repetition_penalty, length_penalty=d.length_penalty)
        self.best_value: float | None = None
        self.best_step: int | None = None

    # --- evaluation --------------------------------------------------------------------------------
    def __call__(self, trainer: Any) -> dict[str, float]:
        if not self.records:
            return {}
        hyps, refs = self.generate(trainer)
        n = self.cfg.select_decoding.truncate_references
        if n:   # as score --truncate-references (R2GenGPT cuts val references to max_length tokens too)
            from cxrgen.metrics.references import truncate_references
            refs, _ = truncate_references(refs, self.recipe.llm.tokenizer, n)
        from cxrgen.metrics.nlg import compute_nlg
        scores = compute_nlg(hyps, refs, metrics=self.metrics, tokenize="none").scores
        value = sum(scores[m] for m in self.metrics) / len(self.metrics)
        out = {f"val_{m}": float(scores[m]) for m in self.metrics}
        out["val_select"] = float(value)
        return out

    def generate(self, trainer: Any) -> tuple[list[str], list[str]]:
        """Val reports decoded by every rank on its shard, gathered; (predictions, references) in record order."""
        import torch

        from cxrgen.models.trainer import RecordDataset, epoch_batches
        from cxrgen.stages.generate import generate_batch
        rt = trainer.rt
        ds = RecordDataset(self.records, self.recipe, self.ctx, with_targets=False)
        batches = epoch_batches(len(ds), 0, seed=0, batch_size=self.cfg.optim.batch_size, rank=rt.rank,
                                world=rt.world, shuffle=False)
        loader = torch.utils.data.DataLoader(ds, batch_sampler=batches, num_workers=self.cfg.workers,
                                             collate_fn=functools.partial(self.recipe.collate, with_targets=False),
                                             generator=torch.Generator().manual_seed(0))
        mine: dict[str, str] = {}
        self.recipe.eval()
        for batch in loader:
            mine.update(zip(batch["ids"], generate_batch(self.recipe, batch, self.decoding, rt.device)))
        self.recipe.train()
        preds: dict[str, str] = {}
        for part in rt.all_gather_object(mine):
            preds.update(part)
        return [preds[r.id] for r in self.records], [r.report for r in self.records]

    # --- best/ --------------------------------------------------------------------------------------
    def after_eval(self, trainer: Any, row: dict) -> None:
        """Save ``best/`` when ``row["val_select"]`` beats every earlier validation (all ranks call this)."""
        value = row.get("val_select")
        if value is None or (self.best_value is not None and value <= self.best_value):
            return
        work = trainer.work
        new, cur, old = work / f"{BEST}.new", work / BEST, work / f"{BEST}.old"
        trainer.save(new, with_optimizer=False)      # complete before anything is replaced
        if trainer.rt.is_main:
            state = json.loads((new / "state.json").read_text(encoding="utf-8"))
            state["select"] = {"rule": self.cfg.select, "value": value, "step": trainer.step,
                               **{k: v for k, v in row.items() if k.startswith("val_")}}
            (new / "state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")
            if cur.exists():
                cur.rename(old)
            new.rename(cur)
            shutil.rmtree(old, ignore_errors=True)
        trainer.rt.barrier()
        self.best_value, self.best_step = value, trainer.step

    def restore(self, work: Path, is_main: bool) -> None:
        """Repair an interrupted swap and read the best value so far (None: no ``best/`` yet)."""
        from cxrgen.models import checkpoint as ck
        work = Path(work)
        new, cur, old = work / f"{BEST}.new", work / BEST, work / f"{BEST}.old"
        if is_main:
            if not cur.exists() and old.exists():
                old.rename(cur)                       # the swap was cut after best → best.old
            for p in (new, old, *work.glob(f".{BEST}.new.tmp-*")):
                shutil.rmtree(p, ignore_errors=True)  # unfinished: the replayed steps validate again
        if cur.exists() and ck.is_complete(cur):
            sel = json.loads((cur / "state.json").read_text(encoding="utf-8")).get("select") or {}
            self.best_value, self.best_step = sel.get("value"), sel.get("step")

    def outputs(self, work: Path) -> list[str]:
        from cxrgen.models import checkpoint as ck
        if not (Path(work) / BEST).is_dir():
            return []
        return [f"{BEST}/{f}" for f in (ck.WEIGHTS, ck.ADAPTER, ck.CONFIG, ck.STATE)]
