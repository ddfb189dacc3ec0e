"""Paired percentile bootstrap and approximate randomization over reports, from sufficient statistics.

Every metric is a function of per-report statistics summed (or averaged) over reports:

* BLEU: [testlen, closest reflen, guess_1..4, correct_1..4] → corpus formula;
* METEOR: the jar's 23 statistics (perfect segments' chunks zeroed) → METEOR formula;
* ROUGE-L, CIDEr (idf frozen from the full reference set): per-report values → mean;
* CE: per-report, per-class [tp, fp, fn] and per-report example P/R/F1 → micro / macro / example.

A resample is a vector of report weights (how often each report was drawn), so a resampled score is a
matrix product plus the metric's formula; the JVM is never re-run. Resamples are drawn with
``numpy.random.default_rng(seed)`` and are identical for both systems of a comparison (paired).
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from cxrgen.metrics import ce as ce_mod
from cxrgen.metrics.nlg import bleu_from_totals_vec, meteor_from_stats

CHUNK = 250


@dataclass
class Stats:
    """Per-report statistics of one system: blocks[name] = (N, K) array; ``reduce`` turns weighted sums into metrics."""
    blocks: dict[str, np.ndarray]
    n: int

    def evaluate(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Metrics for weight rows ``w`` (B, N) (a row of ones is the full set)."""
        sums = {name: w @ arr.reshape(self.n, -1) for name, arr in self.blocks.items()}
        return _from_sums(sums, w.sum(axis=1))


def ce_block(ref: np.ndarray, hyp: np.ndarray) -> np.ndarray:
    """(N, 9C) per-report CE statistics: class [tp, fp, fn] flattened, then 6 example values, zero padded."""
    c = ce_mod.counts(ref, hyp)
    n, k = c.shape[0], c.shape[1]
    out = np.zeros((n, 9 * k))
    out[:, : 3 * k] = c.reshape(n, -1)
    out[:, 3 * k: 3 * k + 6] = ce_mod.example_values(c)
    return out


def _weights(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    idx = rng.integers(0, n, size=(b, n))
    flat = (np.arange(b)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def _resamples(n: int, n_boot: int, seed: int):
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        b = min(CHUNK, n_boot - done)
        yield _weights(rng, n, b)
        done += b


def _collect(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def _ci(values: np.ndarray) -> list[float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [float(lo), float(hi)]


def bootstrap_ci(stats: Stats, n_boot: int, seed: int) -> dict[str, dict]:
    """Percentile 95% interval, bootstrap mean and standard error per metric."""
    if n_boot <= 0 or stats.n == 0:
        return {}
    parts = [stats.evaluate(w) for w in _resamples(stats.n, n_boot, seed)]
    vals = _collect(parts)
    return {k: {"ci95": _ci(v), "mean": float(v.mean()), "stderr": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
            for k, v in vals.items()}


def paired_bootstrap(a: Stats, b: Stats, n_boot: int, seed: int) -> dict[str, dict]:
    """Δ = A − B on the same resamples: 95% interval of Δ and a two-sided p (share of resamples where Δ changes sign)."""
    if n_boot <= 0:
        return {}
    da, db = [], []
    for w in _resamples(a.n, n_boot, seed):
        da.append(a.evaluate(w))
        db.append(b.evaluate(w))
    va, vb = _collect(da), _collect(db)
    ones = np.ones((1, a.n))
    pa, pb = a.evaluate(ones), b.evaluate(ones)
    out = {}
    for k in va:
        d = va[k] - vb[k]
        obs = float(pa[k][0] - pb[k][0])
        p = 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0)))
        out[k] = {"delta": obs, "ci95": _ci(d), "p": min(1.0, p)}
    return out


def randomization_test(a: Stats, b: Stats, n_trials: int, seed: int) -> dict[str, dict]:
    """Paired approximate randomization: swap A's and B's outputs per report with probability 1/2.

    Valid because every statistic depends only on a report's own output and the shared references.
    p = (count(|Δ_perm| >= |Δ_obs|) + 1) / (n_trials + 1).
    """
    if n_trials <= 0:
        return {}
    rng = np.random.default_rng(seed)
    ones = np.ones((1, a.n))
    pa, pb = a.evaluate(ones), b.evaluate(ones)
    obs = {k: float(pa[k][0] - pb[k][0]) for k in pa}
    hits = {k: 0 for k in obs}
    done = 0
    diff = {name: b.blocks[name].reshape(a.n, -1) - a.blocks[name].reshape(a.n, -1) for name in a.blocks}
    while done < n_trials:
        m = min(CHUNK, n_trials - done)
        s = (rng.random((m, a.n)) < 0.5).astype(np.float64)
        ra, rb = {}, {}
        for name in a.blocks:
            base_a = a.blocks[name].reshape(a.n, -1).sum(0)
            base_b = b.blocks[name].reshape(a.n, -1).sum(0)
            delta = s @ diff[name]
            ra[name], rb[name] = base_a + delta, base_b - delta
        total = np.full(m, float(a.n))
        ea, eb = _from_sums(ra, total), _from_sums(rb, total)
        for k in obs:
            hits[k] += int(np.sum(np.abs(ea[k] - eb[k]) >= abs(obs[k]) - 1e-12))
        done += m
    return {k: {"delta": obs[k], "p": (hits[k] + 1) / (n_trials + 1)} for k in obs}


def _from_sums(sums: dict[str, np.ndarray], total: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from weighted sums of per-report statistics (rows = resamples); ``total`` = weight per row."""
    out: dict[str, np.ndarray] = {}
    for name, s in sums.items():
        if name == "bleu":
            bl = bleu_from_totals_vec(s)
            for k in range(bl.shape[1]):
                out[f"bleu_{k + 1}"] = bl[:, k]
        elif name == "meteor":
            out["meteor"] = meteor_from_stats(s)
        elif name in ("rouge_l", "cider"):
            out[name] = s[:, 0] / total
        elif name.startswith("mean:"):   # any metric that is a plain mean of per-report values
            out[name[5:]] = s[:, 0] / total
        elif name.startswith("ce:"):  # ce:<subset> or ce:<subset>@ref=<source> (score_ce.suffix)
            subset, at, source = name.split(":", 1)[1].partition("@")
            c = s.shape[1] // 9
            for k, v in ce_mod.from_totals(s[:, : 3 * c].reshape(-1, c, 3), s[:, 3 * c: 3 * c + 6] / total[:, None]).items():
                out[f"ce_{k}_{subset}{at}{source}"] = v
    return out
