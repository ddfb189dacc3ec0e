"""NLG metrics equal direct pycocoevalcap calls to the last digit, and METEOR survives hostile input."""

from __future__ import annotations

import numpy as np
import pytest

from cxrgen.errors import DependencyError
from cxrgen.metrics import nlg
from tests.score.conftest import make_pairs

PAIRS = make_pairs(40, seed=1)
HYPS = [h for _, h, _ in PAIRS]
REFS = [r for _, _, r in PAIRS]
# edge cases pycocoevalcap itself handles: empty hypothesis, identical texts, double spaces, non-ASCII
HYPS[0] = ""
HYPS[1] = REFS[1]
HYPS[2] = "Heart  size is normal.  No effusion."
HYPS[3] = "Opacity 2 × 3 cm — stable at 37 °C."


def _direct(hyps, refs):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    gts = {i: [r] for i, r in enumerate(refs)}
    res = {i: [h] for i, h in enumerate(hyps)}
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    m = Meteor()
    try:
        met, met_seg = m.compute_score(gts, res)
    finally:
        m.meteor_p.kill()
        m.meteor_p.wait()
    rouge, rouge_seg = Rouge().compute_score(gts, res)
    cider, cider_seg = Cider().compute_score(gts, res)
    return {"bleu_1": b[0], "bleu_2": b[1], "bleu_3": b[2], "bleu_4": b[3], "meteor": met, "rouge_l": rouge,
            "cider": cider}, {"meteor": met_seg, "rouge_l": rouge_seg, "cider": cider_seg}


@pytest.fixture(scope="module")
def direct(meteor):
    # `meteor` first: our JVM loads in the background while pycocoevalcap's own JVM scores
    return _direct(HYPS, REFS)


def test_default_convention_equals_pycocoevalcap_exactly(meteor, direct):
    want, want_seg = direct
    got = nlg.compute_nlg(HYPS, REFS, meteor=meteor)
    assert list(got.scores) == list(nlg.NLG_KEYS)
    for k in nlg.NLG_KEYS:
        assert got.scores[k] == want[k], k  # bit-for-bit, not approx
    for k in ("meteor", "rouge_l", "cider"):
        assert np.array_equal(got.per_sample[k], np.asarray(want_seg[k], dtype=np.float64)), k


def test_python_meteor_aggregation_reproduces_the_jar(meteor):
    got = nlg.compute_nlg(HYPS, REFS, metrics=["meteor"], meteor=meteor)
    assert float(nlg.meteor_from_stats(got.meteor.sum(axis=0))) == pytest.approx(got.scores["meteor"], abs=1e-12)
    assert np.allclose(nlg.meteor_from_stats(got.meteor), got.per_sample["meteor"], atol=1e-12)
    # HYPS[1] == REFS[1] is a perfect segment: its chunk must not enter the corpus sums
    assert got.per_sample["meteor"][1] > 0.99 and got.meteor[1, 20] == 0.0


def test_ptb_option_equals_pycocoevalcap_tokenizer_then_scorers(meteor):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    hyps, refs = HYPS[:15], REFS[:15]
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r}] for i, r in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    got = nlg.compute_nlg(hyps, refs, metrics=["bleu", "rouge_l", "cider"], tokenize="ptb")
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    assert [got.scores[f"bleu_{k}"] for k in range(1, 5)] == b
    assert got.scores["rouge_l"] == Rouge().compute_score(gts, res)[0]
    assert got.scores["cider"] == Cider().compute_score(gts, res)[0]
    assert nlg.ptb_tokenize(hyps) == [res[i][0] for i in range(len(hyps))]


def test_ptb_keeps_line_alignment_with_carriage_returns_and_unicode_breaks():
    texts = ["Heart is normal.\rNo effusion.", "Lungs clear.\u2028Bones intact.", "", "Small effusion, left."]
    assert nlg.ptb_tokenize(texts) == ["heart is normal no effusion", "lungs clear bones intact", "",
                                       "small effusion left"]


def test_meteor_survives_newlines_pipes_and_empty_strings(meteor):
    clean_h = ["No effusion. Heart normal.", "Mild edema."]
    refs = [["No pleural effusion. The heart is normal."], ["Mild pulmonary edema."]]
    base, base_seg, _ = meteor.score(clean_h, refs)
    hostile_h = ["No effusion.\nHeart normal.", "Mild\r\nedema."]
    hostile_r = [["No pleural effusion.\r The heart is normal."], ["Mild ||| pulmonary edema."]]
    total, seg, stats = meteor.score(hostile_h, hostile_r)
    assert total == base and seg == base_seg and stats.shape == (2, 23)
    total, seg, _ = meteor.score(["", "   ", "|||"], [["x y"], [""], ["Heart normal."]])
    assert seg == [0.0, 0.0, 0.0] and total == 0.0
    # the JVM is still in step afterwards
    assert meteor.score(clean_h, refs)[0] == base


def test_bleu_vectorised_formula_matches_scalar_one():
    stats = nlg.bleu_stats(HYPS, [[r] for r in REFS])
    per = nlg.bleu_from_totals_vec(stats)
    for i in range(len(HYPS)):
        assert np.allclose(per[i], nlg.bleu_from_totals(stats[i].tolist()), rtol=1e-13, atol=0)
    assert np.allclose(nlg.bleu_from_totals_vec(stats.sum(0, keepdims=True))[0], nlg.bleu_from_totals(stats.sum(0)))


def test_metric_subset_and_groups():
    got = nlg.compute_nlg(HYPS, REFS, metrics=["bleu_4", "cider"])
    assert list(got.scores) == ["bleu_1", "bleu_2", "bleu_3", "bleu_4", "cider"]
    assert got.meteor is None and "rouge_l" not in got.per_sample


def test_missing_java_is_a_dependency_error_with_instructions(monkeypatch):
    monkeypatch.setattr(nlg.shutil, "which", lambda name: None)
    with pytest.raises(DependencyError, match="java not found.*install"):
        nlg.java_path()
    with pytest.raises(DependencyError):
        nlg.Meteor()


def test_meteor_watchdog_stops_a_jvm_that_does_not_answer():
    from cxrgen.errors import CxrgenError
    m = nlg.Meteor(timeout=0.3)  # far less than the JVM needs to load its paraphrase table
    try:
        with pytest.raises(CxrgenError, match=r"did not answer within 0.3 s \(\+50 ms per report\)"):
            m.score(["No effusion."], [["No pleural effusion."]])
        with pytest.raises(CxrgenError, match="not running"):
            m.score(["No effusion."], [["No pleural effusion."]])
    finally:
        m.close()
