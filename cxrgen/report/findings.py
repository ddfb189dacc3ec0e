"""Per-finding numbers of the report page: support, P/R/F1 with bootstrap 95 % intervals, confusions.

Labels are the per-report CheXpert labels that ``score`` wrote to ``per_sample.jsonl`` (``labels`` for
the generated report, ``reference_labels`` for the reference), binarised as the score's headline
(``uncertain`` pos/neg, :func:`cxrgen.metrics.ce.binarize`). Intervals are percentile bootstraps over
reports with :mod:`cxrgen.metrics.bootstrap`'s resampler, seeded like the score.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from cxrgen.metrics import ce as cem


def _prf(c: np.ndarray) -> np.ndarray:
    """(…, C, 3) [tp, fp, fn] sums → (…, C, 3) [precision, recall, f1]."""
    tp, fp, fn = c[..., 0], c[..., 1], c[..., 2]
    return np.stack([cem._div(tp, tp + fp), cem._div(tp, tp + fn), cem._div(2 * tp, 2 * tp + fp + fn)], axis=-1)


def confusions(ref: np.ndarray, hyp: np.ndarray, classes: Sequence[str], j: int) -> dict:
    """For class ``j``: what the generated reports said instead when they missed it, and what the
    references held when the generated reports claimed it wrongly (the most common other class, with counts)."""
    missed = (ref[:, j] == 1) & (hyp[:, j] == 0)
    false = (hyp[:, j] == 1) & (ref[:, j] == 0)
    said = Counter(classes[k] for i in np.flatnonzero(missed) for k in np.flatnonzero(hyp[i]) if k != j)
    held = Counter(classes[k] for i in np.flatnonzero(false) for k in np.flatnonzero(ref[i]) if k != j)
    return {"missed": int(missed.sum()), "false": int(false.sum()),
            "missed_instead": said.most_common(1)[0] if said else None,
            "false_reference_had": held.most_common(1)[0] if held else None}


def finding_table(per_sample: list[dict], classes: Sequence[str], uncertain: str, n_boot: int, seed: int) -> list[dict]:
    """One row per class: support, predicted, P/R/F1, their 95 % intervals (None with ``n_boot=0``), confusions."""
    from cxrgen.metrics.bootstrap import _resamples
    ref = cem.binarize([r.get("reference_labels") or {} for r in per_sample], classes, uncertain)
    hyp = cem.binarize([r.get("labels") or {} for r in per_sample], classes, uncertain)
    c = cem.counts(ref, hyp)  # (N, C, 3)
    point = _prf(c.sum(0))
    ci = None
    if n_boot and len(per_sample):
        flat = c.reshape(len(per_sample), -1)
        boots = np.concatenate([_prf((w @ flat).reshape(len(w), len(classes), 3))
                                for w in _resamples(len(per_sample), n_boot, seed)])
        ci = np.percentile(boots, [2.5, 97.5], axis=0)  # (2, C, 3)
    rows = []
    for j, name in enumerate(classes):
        tp, fp, fn = c[:, j].sum(0)
        row = {"finding": name, "support": int(tp + fn), "predicted": int(tp + fp),
               "precision": float(point[j, 0]), "recall": float(point[j, 1]), "f1": float(point[j, 2])}
        for k, stat in enumerate(("precision", "recall", "f1")):
            row[f"{stat}_ci"] = [float(ci[0, j, k]), float(ci[1, j, k])] if ci is not None else None
        row.update(confusions(ref, hyp, classes, j))
        rows.append(row)
    return rows


LABEL_TEXT = {1: "positive", 0: "negative", -1: "uncertain", None: "not mentioned"}


def study_labels(row: dict, classes: Sequence[str], uncertain: str) -> tuple[list[dict], float]:
    """Per mentioned class: both sides' labels and whether they disagree (binarised); plus the
    report's CE F1 over the classes (a report where both sides are empty scores 1, RadEval's convention)."""
    ref_l, hyp_l = row.get("reference_labels") or {}, row.get("labels") or {}
    ref = cem.binarize([ref_l], classes, uncertain)
    hyp = cem.binarize([hyp_l], classes, uncertain)
    f1 = float(cem.example_values(cem.counts(ref, hyp))[0, 5])
    out = []
    for j, name in enumerate(classes):
        r, h = ref_l.get(name), hyp_l.get(name)
        r = None if r is None or r != r else int(r)
        h = None if h is None or h != h else int(h)
        if r is None and h is None:
            continue
        out.append({"finding": name, "reference": LABEL_TEXT[r], "generated": LABEL_TEXT[h],
                    "disagree": bool(ref[0, j] != hyp[0, j])})
    return out, f1
