"""Shared fixtures of the score/label tests: a small synthetic report set and one METEOR JVM per session."""

from __future__ import annotations

import json
import random

import pytest

SENTENCES = [
    "The heart size is normal.", "There is no pleural effusion or pneumothorax.", "Mild cardiomegaly is present.",
    "The lungs are clear.", "Small left pleural effusion.", "No focal consolidation.",
    "Mediastinal contours are unremarkable.", "Bibasilar atelectasis is seen.", "There is mild pulmonary edema.",
    "Osseous structures are intact.", "No acute cardiopulmonary process.", "Possible right lower lobe pneumonia.",
    "Pacemaker leads are in place.", "Cannot exclude small pneumothorax.", "Heart size is at the upper limits of normal.",
]


def make_pairs(n: int, seed: int, ref_seed: int = 0) -> list[tuple[str, str, str]]:
    rr, rh = random.Random(ref_seed), random.Random(seed)
    out = []
    for i in range(n):
        ref = " ".join(rr.sample(SENTENCES, rr.randint(2, 6)))
        hyp = " ".join(rh.sample(SENTENCES, rh.randint(1, 6)))
        out.append((f"s{i:03d}", hyp, ref))
    return out


def write_preds(path, pairs) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for rid, hyp, ref in pairs:
            f.write(json.dumps({"id": rid, "prediction": hyp, "reference": ref}) + "\n")


@pytest.fixture(scope="session")
def meteor():
    """The process-wide METEOR JVM (10-20 s to start); every in-process test shares it."""
    from cxrgen.metrics.nlg import shared_meteor
    return shared_meteor()
