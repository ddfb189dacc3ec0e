"""Clinical efficacy (CE): precision / recall / F1 of predicted CheXpert labels against reference labels.

Labels are 1 / 0 / -1 (uncertain) / None (not mentioned). Binarisation: 1 → positive; None, 0 → negative;
-1 → positive with ``uncertain="pos"`` (f1chexbert ``rrg`` mode, RadEval, ORGan) or negative with
``uncertain="neg"`` (R2Gen's compute_ce.py, PromptMRG).

Averages, each over the 14 CheXpert classes and over the 5 competition classes:

* ``micro``: counts summed over classes and reports (sklearn ``average="micro"``);
* ``macro``: per-class P/R/F1, then their mean (sklearn ``average="macro"``, 0 for an empty class);
* ``example``: per-report P/R/F1, then their mean (sklearn ``average="samples"``, PromptMRG). A report
  where neither reference nor prediction has a positive label scores 0 (sklearn/PromptMRG convention);
  ``example_empty1`` gives such a report 1 (RadEval's ``multilabel_prf_per_sample``).

Everything is computed from per-report true/false positive/negative counts, so bootstrap resamples are
weighted sums (see :mod:`cxrgen.metrics.bootstrap`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cxrgen.metrics.chexpert import CLASSES, FIVE

SUBSETS = {"14": CLASSES, "5": FIVE}
UNCERTAIN = ("pos", "neg")


def binarize(labels: Sequence[dict], classes: Sequence[str], uncertain: str) -> np.ndarray:
    if uncertain not in UNCERTAIN:
        raise ValueError(f"uncertain must be pos or neg, got {uncertain!r}")
    unc = 1 if uncertain == "pos" else 0
    out = np.zeros((len(labels), len(classes)), dtype=np.int8)
    for i, lab in enumerate(labels):
        for j, c in enumerate(classes):
            v = lab.get(c)
            if v is None or (isinstance(v, float) and v != v):
                continue
            v = int(v)
            out[i, j] = 1 if v == 1 else (unc if v == -1 else 0)
    return out


def counts(ref: np.ndarray, hyp: np.ndarray) -> np.ndarray:
    """(N, C, 3) per-report, per-class [tp, fp, fn]."""
    ref = ref.astype(bool)
    hyp = hyp.astype(bool)
    return np.stack([ref & hyp, hyp & ~ref, ref & ~hyp], axis=-1).astype(np.float64)


def _div(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def example_values(c: np.ndarray) -> np.ndarray:
    """(N, 6) per report: P, R, F1 with empty-empty → 0, then P, R, F1 with empty-empty → 1."""
    tp, fp, fn = c[..., 0].sum(-1), c[..., 1].sum(-1), c[..., 2].sum(-1)
    p, r, f = _div(tp, tp + fp), _div(tp, tp + fn), _div(2 * tp, 2 * tp + fp + fn)
    empty = (tp + fp + fn) == 0
    return np.stack([p, r, f, np.where(empty, 1.0, p), np.where(empty, 1.0, r), np.where(empty, 1.0, f)], axis=-1)


def from_totals(tot: np.ndarray, ex_mean: np.ndarray) -> dict[str, np.ndarray]:
    """Scores from class totals (…, C, 3) and mean example values (…, 6); vectorised over leading axes."""
    tp, fp, fn = tot[..., 0], tot[..., 1], tot[..., 2]
    mtp, mfp, mfn = tp.sum(-1), fp.sum(-1), fn.sum(-1)
    out = {
        "micro_precision": _div(mtp, mtp + mfp), "micro_recall": _div(mtp, mtp + mfn),
        "micro_f1": _div(2 * mtp, 2 * mtp + mfp + mfn),
        "macro_precision": _div(tp, tp + fp).mean(-1), "macro_recall": _div(tp, tp + fn).mean(-1),
        "macro_f1": _div(2 * tp, 2 * tp + fp + fn).mean(-1),
    }
    for k, name in enumerate(("example_precision", "example_recall", "example_f1",
                              "example_empty1_precision", "example_empty1_recall", "example_empty1_f1")):
        out[name] = ex_mean[..., k]
    return out


def ce_scores(ref: np.ndarray, hyp: np.ndarray) -> dict[str, float]:
    """All averages for binary (N, C) reference and prediction matrices."""
    c = counts(ref, hyp)
    ex = example_values(c)
    res = from_totals(c.sum(0), ex.mean(0) if len(ex) else np.zeros(6))
    return {k: float(v) for k, v in res.items()}


def per_class(ref: np.ndarray, hyp: np.ndarray, classes: Sequence[str]) -> dict[str, dict]:
    c = counts(ref, hyp).sum(0)
    out = {}
    for j, name in enumerate(classes):
        tp, fp, fn = c[j]
        out[name] = {"support": int(tp + fn), "predicted": int(tp + fp),
                     "precision": float(_div(tp, tp + fp)), "recall": float(_div(tp, tp + fn)),
                     "f1": float(_div(2 * tp, 2 * tp + fp + fn))}
    return out


def headline_key(avg: str, stat: str, subset: str) -> str:
    """Flat key in scores.json ``metrics``: ce_micro_f1_14, ce_example_precision_5 …"""
    return f"ce_{avg}_{stat}_{subset}"
