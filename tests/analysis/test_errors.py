"""Error analysis numbers on small hand-made prediction sets (exact expected values)."""

import numpy as np
import pytest

from cxrgen.metrics import errors
from cxrgen.metrics.nlg import bleu_from_totals_vec, bleu_stats


def rec(rid, patient, date=None, dataset="mimic", split="test", report="x"):
    extra = {"study_date": date} if date else {}
    return {"id": rid, "patient_id": patient, "split": split, "report": report, "extra": extra,
            "source": {"dataset": dataset}}


RECORDS = [rec("s1", "p1", "20200101"), rec("s2", "p1", "20200201"), rec("s3", "p2"),
           rec("s4", "p3"), rec("s5", "p3"), rec("s6", "p4", dataset="iu"), rec("s7", "p4", dataset="iu")]


def test_study_has_prior_rules():
    assert errors.study_has_prior(RECORDS) == {"s1": False, "s2": True, "s3": False, "s4": None, "s5": None,
                                               "s6": False, "s7": False}


def test_study_has_prior_per_image_records_group_by_study():
    rows = [dict(rec("i1", "p1", "20200101"), extra={"study_id": "a", "study_date": "20200101"}),
            dict(rec("i2", "p1", "20200101"), extra={"study_id": "a", "study_date": "20200101"}),
            dict(rec("i3", "p1", "20200301"), extra={"study_id": "b", "study_date": "20200301"}),
            dict(rec("i4", "p2"), extra={"study_id": "c"}), dict(rec("i5", "p2"), extra={"study_id": "c"})]
    assert errors.study_has_prior(rows) == {"i1": False, "i2": False, "i3": True, "i4": False, "i5": False}


def test_prior_hallucination_counts():
    hyps = ["Heart size is unchanged.", "Stable.", "New effusion.", "Clear.", "Again seen.", "Clear lungs."]
    refs = ["Clear.", "Unchanged.", "Clear.", "x", "x", "No change."]
    has = [False, True, False, None, None, False]
    out = errors.prior_hallucination(hyps, refs, has)
    assert out["per_sample"] == [True, True, True, False, True, False]
    assert {k: out[k] for k in ("studies", "without_prior", "with_prior", "unknown", "hallucinated")} == \
        {"studies": 6, "without_prior": 3, "with_prior": 1, "unknown": 2, "hallucinated": 2}
    assert out["rate"] == pytest.approx(2 / 3) and out["reference_rate"] == pytest.approx(1 / 3)
    assert out["rate_with_prior"] == 1.0


def test_prior_hallucination_without_known_studies_has_no_rate():
    out = errors.prior_hallucination(["Unchanged."], ["x"], [None])
    assert out["rate"] is None and out["unknown"] == 1 and out["hallucinated"] == 0


TRAIN = ["the lungs are clear .", "there is a large left pleural effusion .", "the lungs  are clear ."]
HYPS = ["the lungs are clear .", "heart size is unchanged .", "the lungs are clear .", "there is a small left pleural effusion ."]


def test_copying_counts_and_nearest():
    out = errors.copying(HYPS, TRAIN, train_ids=["t1", "t2", "t3"])
    assert out["identical_to_training"] == 2 and out["identical_share"] == 0.5
    assert out["distinct_predictions"] == 3 and out["distinct_share"] == 0.75
    assert out["distinct_training_reports"] == 2 and out["training_reports"] == 3
    ps = out["per_sample"]
    assert ps["copied"] == [True, False, True, False]
    assert ps["nearest"] == ["t1", "t1", "t1", "t2"]  # t3 is t1's text: the first id is named
    want = bleu_from_totals_vec(bleu_stats([HYPS[3]], [[TRAIN[1]]]))[0, 3]
    assert ps["bleu"][0] == pytest.approx(1.0) and ps["bleu"][3] == pytest.approx(want) and 0.3 < want < 0.9
    assert sum(out["nearest_train_bleu4"]["histogram"]["counts"]) == 4
    assert out["nearest_train_bleu4"]["histogram"]["counts"][-1] == 2  # the two copies


def test_nearest_training_equals_brute_force():
    rng = np.random.default_rng(0)
    words = "the lungs are clear no effusion heart size normal left right pleural large small pneumothorax".split()
    train = [" ".join(rng.choice(words, size=rng.integers(4, 12))) for _ in range(60)]
    hyps = [" ".join(rng.choice(words, size=rng.integers(4, 12))) for _ in range(25)]
    best, arg = errors.nearest_training(hyps, train, k=60)
    for i, h in enumerate(hyps):
        brute = bleu_from_totals_vec(bleu_stats([h] * len(train), [[t] for t in train]))[:, 3]
        assert best[i] == pytest.approx(brute.max())
        assert brute[arg[i]] == pytest.approx(brute.max())


def test_analyse_joins_by_id():
    rows = [rec("a", "p1", report="the lungs are clear ."), rec("b", "p2", split="train", report="the lungs are clear ."),
            rec("c", "p3", split="train", report="heart size is normal .")]
    summary, per = errors.analyse(["a"], ["the lungs are unchanged ."], ["the lungs are clear ."], rows)
    assert summary["hallucinated_priors"]["hallucinated"] == 1 and summary["copying"]["training_reports"] == 2
    want = bleu_from_totals_vec(bleu_stats(["the lungs are unchanged ."], [["the lungs are clear ."]]))[0, 3]
    assert per == [{"mentions_prior": True, "has_prior": False, "copied": False,
                    "nearest_train_bleu4": pytest.approx(want), "nearest_train_id": "b"}]
