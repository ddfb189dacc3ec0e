"""Error analysis of generated reports: hallucinated prior references, copying and collapse.

* **Hallucinated priors**: the share of generated reports that refer to a previous examination
  (:mod:`cxrgen.metrics.priors`) for studies that have none. Which studies have a prior comes from the
  prepared records (:func:`study_has_prior`): MIMIC records carry ``extra.earlier_studies``, the
  patient's studies that the metadata (StudyDate/StudyTime) dates earlier, counted by ``prepare`` over
  every study of the metadata including those it dropped; IU X-ray studies never have one (one study
  per patient in OpenI); otherwise a patient's first study by ``extra.study_date`` has none, later
  ones have one; a patient with a single study in the records has none; without
  dates the status is unknown and the study is left out of the rate (counted as ``unknown``).
* **Copying**: the share of generated reports identical (whitespace collapsed) to some training
  report; the number of distinct generated reports (collapse: one report for every image); and for
  each generated report the sentence BLEU-4 of its nearest training report. Candidates are the
  :data:`CANDIDATES` training reports most similar by TF-IDF cosine over word 1–2-grams; BLEU-4 is
  then computed exactly with pycocoevalcap's per-sentence formula (its smoothing constants 1e-9/1e-15).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Optional, Sequence

import numpy as np

from cxrgen.metrics.priors import mentions_prior

CANDIDATES = 32
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def normalize(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------- priors
def study_has_prior(records: Iterable[dict]) -> dict[str, Optional[bool]]:
    """Record id → True (an earlier study of the same patient exists), False (none) or None (unknown)."""
    rows = list(records)
    studies: dict[str, dict[str, Optional[str]]] = defaultdict(dict)  # patient → study → date
    for r in rows:
        extra = r.get("extra") or {}
        studies[str(r["patient_id"])][str(extra.get("study_id", r["id"]))] = extra.get("study_date")
    out: dict[str, Optional[bool]] = {}
    for r in rows:
        extra = r.get("extra") or {}
        mine = studies[str(r["patient_id"])]
        sid = str(extra.get("study_id", r["id"]))
        if isinstance(extra.get("earlier_studies"), int):  # MIMIC: counted over the whole metadata by prepare
            out[r["id"]] = extra["earlier_studies"] > 0
        elif (r.get("source") or {}).get("dataset") == "iu" or len(mine) == 1:
            out[r["id"]] = False
        elif all(d for d in mine.values()):
            out[r["id"]] = any(d < mine[sid] for d in mine.values())  # ISO-like dates sort as text
        else:
            out[r["id"]] = None
    return out


def prior_hallucination(hyps: Sequence[str], refs: Sequence[str], has_prior: Sequence[Optional[bool]]) -> dict:
    """Counts and rates of prior references among generated reports (``rate``: over studies without a prior)."""
    hyp_m = [mentions_prior(h) for h in hyps]
    ref_m = [mentions_prior(r) for r in refs]
    without = [i for i, p in enumerate(has_prior) if p is False]
    with_ = [i for i, p in enumerate(has_prior) if p is True]
    k = sum(hyp_m[i] for i in without)
    return {
        "studies": len(hyps), "without_prior": len(without), "with_prior": len(with_),
        "unknown": sum(1 for p in has_prior if p is None),
        "hallucinated": k, "rate": k / len(without) if without else None,
        "reference_rate": sum(ref_m[i] for i in without) / len(without) if without else None,
        "rate_with_prior": sum(hyp_m[i] for i in with_) / len(with_) if with_ else None,
        "per_sample": hyp_m,
    }


# --------------------------------------------------------------------------------- copying
def _ngrams(text: str) -> list[str]:
    w = text.lower().split()
    return w + [f"{a} {b}" for a, b in zip(w, w[1:])]


def _tfidf(docs: Sequence[str], vocab: dict[str, int], idf: np.ndarray):
    from scipy.sparse import csr_matrix
    data, cols, ptr = [], [], [0]
    for d in docs:
        counts: dict[int, int] = defaultdict(int)
        for g in _ngrams(d):
            j = vocab.get(g)
            if j is not None:
                counts[j] += 1
        cols.extend(counts)
        data.extend(counts.values())
        ptr.append(len(cols))
    m = csr_matrix((np.asarray(data, np.float64), np.asarray(cols, np.int64), np.asarray(ptr, np.int64)),
                   shape=(len(docs), len(vocab)))
    m = m.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return m.multiply(1.0 / norms[:, None]).tocsr()


def nearest_training(hyps: Sequence[str], train: Sequence[str], k: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """For each hypothesis: (sentence BLEU-4 of the nearest training report, index into ``train``).

    Shapes (N,) float64 and (N,) int64; index -1 and BLEU 0 when ``train`` is empty.
    """
    from cxrgen.metrics.nlg import bleu_from_totals_vec, bleu_stats
    n = len(hyps)
    best, arg = np.zeros(n), np.full(n, -1, dtype=np.int64)
    if not n or not train:
        return best, arg
    vocab: dict[str, int] = {}
    df: dict[int, int] = defaultdict(int)
    for d in train:
        for g in set(_ngrams(d)):
            j = vocab.setdefault(g, len(vocab))
            df[j] += 1
    idf = np.log((1 + len(train)) / (1 + np.array([df[j] for j in range(len(vocab))], np.float64))) + 1.0
    sims = (_tfidf(hyps, vocab, idf) @ _tfidf(train, vocab, idf).T).toarray() if len(train) * n <= 5e7 else None
    exact = {normalize(t): i for i, t in reversed(list(enumerate(train)))}
    for i, h in enumerate(hyps):
        if sims is not None:
            row = sims[i]
        else:  # very large sets: one row at a time keeps memory at O(train)
            row = (_tfidf([h], vocab, idf) @ _tfidf(train, vocab, idf).T).toarray()[0]
        cand = np.argsort(-row, kind="stable")[:k].tolist()
        if normalize(h) in exact:
            cand.insert(0, exact[normalize(h)])
        scores = bleu_from_totals_vec(bleu_stats([h] * len(cand), [[train[c]] for c in cand]))[:, 3]
        j = int(np.argmax(scores))  # first maximum: the exact copy when there is one
        best[i], arg[i] = scores[j], cand[j]
    return best, arg


def copying(hyps: Sequence[str], train: Sequence[str], k: int = CANDIDATES,
            train_ids: Optional[Sequence[str]] = None) -> dict:
    """Copying/collapse summary and per-sample values (``per_sample``: copied flags, BLEU, nearest id).

    ``nearest`` names the first training record (``train_ids``, default the index) with the nearest text.
    """
    ids = list(train_ids) if train_ids is not None else [str(i) for i in range(len(train))]
    first: dict[str, str] = {}
    for t, rid in zip(train, ids):
        first.setdefault(normalize(t), rid)
    uniq = list(first)
    seen = set(uniq)
    copied = [normalize(h) in seen for h in hyps]
    bleu, arg = nearest_training(hyps, uniq, k)
    n = len(hyps)
    hist, edges = np.histogram(bleu, bins=10, range=(0.0, 1.0))
    return {
        "reports": n, "training_reports": len(train), "distinct_training_reports": len(uniq),
        "identical_to_training": int(sum(copied)), "identical_share": sum(copied) / n if n else None,
        "distinct_predictions": len({normalize(h) for h in hyps}),
        "distinct_share": len({normalize(h) for h in hyps}) / n if n else None,
        "nearest_train_bleu4": {
            "mean": float(bleu.mean()) if n else None,
            "quantiles": {f"p{int(q * 100)}": float(np.quantile(bleu, q)) for q in QUANTILES} if n else {},
            "histogram": {"edges": [round(float(e), 2) for e in edges], "counts": hist.tolist()},
            "candidates": k, "method": "TF-IDF 1-2-gram cosine top-k, then pycocoevalcap sentence BLEU-4"},
        "per_sample": {"copied": copied, "bleu": bleu.tolist(), "nearest": [first[uniq[j]] if j >= 0 else None for j in arg]},
    }


# --------------------------------------------------------------------------------- all together
def analyse(ids: Sequence[str], hyps: Sequence[str], refs: Sequence[str], records: Iterable[dict]) -> tuple[dict, list[dict]]:
    """Both analyses against a prepared data set's records: (summary for scores.json, per-report rows)."""
    rows = list(records)
    has = study_has_prior(rows)
    train = [r for r in rows if r.get("split") == "train"]
    pri = prior_hallucination(hyps, refs, [has.get(i) for i in ids])
    cop = copying(hyps, [r["report"] for r in train], train_ids=[r["id"] for r in train])
    per = [{"mentions_prior": m, "has_prior": has.get(i), "copied": c, "nearest_train_bleu4": b, "nearest_train_id": n}
           for i, m, c, b, n in zip(ids, pri.pop("per_sample"), *cop.pop("per_sample").values())]
    return {"hallucinated_priors": pri, "copying": cop}, per
