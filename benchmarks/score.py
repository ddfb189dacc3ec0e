"""Benchmark: `cxrgen score` on 3,403 synthetic report pairs vs the raw pycocoevalcap calls alone.

Both sides start their own METEOR JVM (that is most of the time). Rows:

* raw: Bleu(4), Meteor(), Rouge(), Cider() compute_score on dicts, as R2GenGPT calls them;
* cxrgen NLG: ``score_file`` with the same four metrics, bootstrap off (input parsing, sufficient
  statistics, own METEOR wrapper, scores.json) — the like-for-like overhead (target ≤ 10%);
* cxrgen + CE + bootstrap 1000: the default command (labeler on predictions and references, CE variants,
  1,000 resamples of every metric).

cxrgen starts the METEOR JVM before computing BLEU/ROUGE-L/CIDEr, so the JVM's ~10-20 s start overlaps
with Python work on a second core; the raw calls run one after another as R2GenGPT runs them.

Run: python benchmarks/score.py  → benchmarks/results/score.md
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N = 3403
POOL = [
    "The heart size is normal.", "The heart is mildly enlarged.", "There is no pleural effusion or pneumothorax.",
    "Mild cardiomegaly is present.", "The lungs are clear.", "Small left pleural effusion is noted.",
    "No focal consolidation is seen.", "Mediastinal contours are unremarkable.", "Bibasilar atelectasis is seen.",
    "There is mild pulmonary edema.", "Osseous structures are intact.", "No acute cardiopulmonary process.",
    "Possible right lower lobe pneumonia.", "Pacemaker leads terminate in the right atrium and ventricle.",
    "Cannot exclude a small apical pneumothorax.", "Heart size is at the upper limits of normal.",
    "The cardiomediastinal silhouette is within normal limits for size and contour.",
    "There is a right-sided PICC line with tip in the mid SVC.", "Degenerative changes of the thoracic spine.",
    "Patchy opacity in the left lung base may represent atelectasis or infection.",
    "There is no evidence of free air under the diaphragm.", "Calcified granuloma in the right upper lobe.",
    "Interval removal of the endotracheal tube.", "Moderate right pleural effusion has increased.",
    "Lungs are hyperinflated consistent with COPD.", "No displaced rib fractures are identified.",
    "Pulmonary vascularity is within normal limits.", "There is mild vascular congestion.",
    "Low lung volumes with crowding of the bronchovascular markings.", "The aorta is tortuous and calcified.",
    "A nasogastric tube courses below the diaphragm.", "Stable appearance of the chest.",
    "Nodular opacity in the right midlung measures 1 cm.",
]


def make(path: Path, seed: int) -> tuple[list[str], list[str], list[str]]:
    rr, rh = random.Random(0), random.Random(seed)
    ids, hyps, refs = [], [], []
    with open(path, "w") as f:
        for i in range(N):
            ref = " ".join(rr.sample(POOL, rr.randint(6, 9)))
            hyp = " ".join(rh.sample(POOL, rh.randint(6, 9)))
            ids.append(f"s{i}")
            hyps.append(hyp)
            refs.append(ref)
            f.write(json.dumps({"id": ids[-1], "prediction": hyp, "reference": ref}) + "\n")
    return ids, hyps, refs


def raw(ids, hyps, refs) -> tuple[float, dict]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    t = time.perf_counter()
    gts = {i: [r] for i, r in zip(ids, refs)}
    res = {i: [h] for i, h in zip(ids, hyps)}
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    m = Meteor()
    met, _ = m.compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    dt = time.perf_counter() - t
    m.meteor_p.kill()
    m.meteor_p.wait()
    return dt, {"bleu_4": b[3], "meteor": met, "rouge_l": rouge, "cider": cider}


def ours(path: Path, out: Path, metrics: tuple, bootstrap: int) -> tuple[float, dict]:
    from cxrgen.config.schema import ScoreConfig
    from cxrgen.metrics import nlg
    from cxrgen.stages.score import score_file
    if nlg._SHARED is not None:  # a fresh JVM, as the raw side gets
        nlg._SHARED.close()
        nlg._SHARED = None
    cfg = ScoreConfig(metrics=metrics, bootstrap=bootstrap)
    t = time.perf_counter()
    doc = score_file(cfg, path, out=out)
    return time.perf_counter() - t, doc


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cxrgen-bench-"))
    path = tmp / "preds.jsonl"
    ids, hyps, refs = make(path, seed=1)
    words = sum(len(h.split()) for h in hyps) / N, sum(len(r.split()) for r in refs) / N
    raw(ids[:50], hyps[:50], refs[:50])  # warm the page cache for the jar and paraphrase table
    nlg4 = ("bleu", "meteor", "rouge_l", "cider")
    rows, raw_times, our_times = [], [], []
    for rep in range(2):  # interleaved, so load changes hit both sides alike
        dt, want = raw(ids, hyps, refs)
        raw_times.append(dt)
        dt, doc = ours(path, tmp / "o1", nlg4, 0)
        our_times.append(dt)
        for k, v in want.items():
            assert doc["metrics"][k] == v, (k, doc["metrics"][k], v)
    t_all, doc = ours(path, tmp / "o3", nlg4 + ("ce",), 1000)
    assert all(doc["metrics"][k] == v for k, v in want.items())
    best_raw, best_ours = min(raw_times), min(our_times)
    rows.append(("raw pycocoevalcap (Bleu, Meteor incl. JVM start, Rouge, Cider)", best_raw, 1.0))
    rows.append(("cxrgen score, same 4 metrics, --bootstrap 0", best_ours, best_ours / best_raw))
    rows.append(("cxrgen score + CE + --bootstrap 1000 (default)", t_all, t_all / best_raw))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# `cxrgen score` vs raw pycocoevalcap",
        "",
        f"{N} synthetic pairs (mean {words[0]:.1f} / {words[1]:.1f} words per prediction / reference), "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.1f} at the end. "
        "Best of 2 interleaved runs for the first two rows (each starts its own METEOR JVM); the values of "
        "all four metrics were asserted equal to the raw calls in every run.",
        "",
        "| run | seconds | × raw |",
        "|---|---:|---:|",
        *[f"| {name} | {t:.2f} | {r:.3f} |" for name, t, r in rows],
        "",
        f"Like-for-like overhead: **{(best_ours / best_raw - 1) * 100:+.1f}%** (target ≤ 10%). "
        f"All runs: raw {', '.join(f'{t:.2f}' for t in raw_times)} s; cxrgen {', '.join(f'{t:.2f}' for t in our_times)} s.",
        "",
        "cxrgen's stage timings of the last run (s): "
        + ", ".join(f"{k} {v}" for k, v in doc["timings"].items()) + ".",
        "",
        "Regenerate: `python benchmarks/score.py`.",
    ]
    out = Path(__file__).resolve().parent / "results" / "score.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
