"""CE arithmetic on hand-made label matrices (exact values) and the bootstrap / randomization machinery."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgen.metrics import bootstrap as bs
from cxrgen.metrics import ce
from tests.score.conftest import make_pairs

REF = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 1]])
HYP = np.array([[1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]])


def test_ce_values_by_hand():
    s = ce.ce_scores(REF, HYP)
    # per class: c0 tp2; c1 tp1 fp1 fn1; c2 tp1 fn1  → micro tp4 fp1 fn2
    assert s["micro_precision"] == pytest.approx(4 / 5, abs=1e-15)
    assert s["micro_recall"] == pytest.approx(4 / 6, abs=1e-15)
    assert s["micro_f1"] == pytest.approx(8 / 11, abs=1e-15)
    assert s["macro_precision"] == pytest.approx(5 / 6, abs=1e-15)
    assert s["macro_recall"] == pytest.approx(2 / 3, abs=1e-15)
    assert s["macro_f1"] == pytest.approx(13 / 18, abs=1e-15)
    # per report: (.5,.5,.5), empty-empty, (1,.5,2/3), (1,1,1)
    assert s["example_precision"] == pytest.approx(0.625, abs=1e-15)
    assert s["example_recall"] == pytest.approx(0.5, abs=1e-15)
    assert s["example_f1"] == pytest.approx(13 / 24, abs=1e-15)
    assert s["example_empty1_precision"] == pytest.approx(0.875, abs=1e-15)
    assert s["example_empty1_recall"] == pytest.approx(0.75, abs=1e-15)
    assert s["example_empty1_f1"] == pytest.approx(19 / 24, abs=1e-15)


def test_ce_matches_sklearn_when_available():
    metrics = pytest.importorskip("sklearn.metrics")
    s = ce.ce_scores(REF, HYP)
    for avg in ("micro", "macro", "samples"):
        key = "example" if avg == "samples" else avg
        assert s[f"{key}_f1"] == pytest.approx(metrics.f1_score(REF, HYP, average=avg, zero_division=0), abs=1e-12)
        assert s[f"{key}_precision"] == pytest.approx(
            metrics.precision_score(REF, HYP, average=avg, zero_division=0), abs=1e-12)


def test_binarize_uncertain_and_blank():
    labels = [{"A": -1, "B": None, "C": 1}, {"A": 0, "B": float("nan"), "C": -1.0}]
    assert ce.binarize(labels, ["A", "B", "C"], "pos").tolist() == [[1, 0, 1], [0, 0, 1]]
    assert ce.binarize(labels, ["A", "B", "C"], "neg").tolist() == [[0, 0, 1], [0, 0, 0]]


def _stats(hyps, refs):
    from cxrgen.metrics.chexpert import CLASSES, label_reports
    from cxrgen.metrics.nlg import compute_nlg
    r = compute_nlg(hyps, refs, metrics=["bleu", "rouge_l", "cider"])
    rm = ce.binarize(label_reports(refs), CLASSES, "pos")
    hm = ce.binarize(label_reports(hyps), CLASSES, "pos")
    blocks = {"bleu": r.bleu, "rouge_l": r.per_sample["rouge_l"][:, None], "cider": r.per_sample["cider"][:, None],
              "ce:14": bs.ce_block(rm, hm)}
    return r, ce.ce_scores(rm, hm), bs.Stats(blocks, len(hyps))


PAIRS = make_pairs(60, seed=3)
HYPS = [h for _, h, _ in PAIRS]
REFS = [r for _, _, r in PAIRS]


def test_full_weights_reproduce_point_values():
    r, c, st = _stats(HYPS, REFS)
    full = st.evaluate(np.ones((1, len(HYPS))))
    for k, v in r.scores.items():
        assert full[k][0] == pytest.approx(v, rel=1e-12, abs=1e-15), k
    for k in ("micro_f1", "macro_f1", "example_f1"):
        assert full[f"ce_{k}_14"][0] == pytest.approx(c[k], abs=1e-15)


def test_bootstrap_is_deterministic_for_a_seed():
    _, _, st = _stats(HYPS, REFS)
    a = bs.bootstrap_ci(st, 200, seed=7)
    b = bs.bootstrap_ci(st, 200, seed=7)
    c = bs.bootstrap_ci(st, 200, seed=8)
    assert a == b
    assert a["bleu_4"]["ci95"] != c["bleu_4"]["ci95"]
    assert set(a) >= {"bleu_1", "bleu_4", "rouge_l", "cider", "ce_micro_f1_14", "ce_example_f1_14"}
    lo, hi = a["cider"]["ci95"]
    assert lo < hi


def test_paired_tests_on_identical_and_different_systems():
    _, _, a = _stats(HYPS, REFS)
    pb = bs.paired_bootstrap(a, a, 100, seed=1)
    ar = bs.randomization_test(a, a, 300, seed=1)
    assert pb["bleu_4"]["delta"] == 0.0 and pb["bleu_4"]["p"] == 1.0
    assert ar["bleu_4"]["p"] == 1.0 and ar["ce_micro_f1_14"]["p"] == 1.0
    _, _, perfect = _stats(REFS, REFS)
    pb = bs.paired_bootstrap(perfect, a, 200, seed=1)
    ar = bs.randomization_test(perfect, a, 500, seed=1)
    assert pb["bleu_4"]["delta"] > 0.3 and pb["bleu_4"]["p"] == 0.0 and pb["bleu_4"]["ci95"][0] > 0
    assert ar["bleu_4"]["p"] == pytest.approx(1 / 501) and ar["rouge_l"]["p"] == pytest.approx(1 / 501)
    assert bs.randomization_test(perfect, a, 500, seed=1) == ar
