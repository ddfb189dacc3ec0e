"""The prior-reference rules on sentences of our own: positives, negatives and rewrites."""

import pytest

from cxrgen.metrics.priors import mentions_prior, prior_phrases, remove_priors

POSITIVE = [
    "No change from the prior study.",
    "Compared to the prior radiograph, the effusion is larger.",
    "Heart size is unchanged.",
    "The cardiomediastinal silhouette is stable.",
    "Left basilar opacity is again seen.",
    "There has been interval placement of a right internal jugular line.",
    "New left pleural effusion.",
    "Newly seen nodule in the right upper lobe.",
    "In comparison with the study of ___, there is little change.",
    "The right pneumothorax has decreased in size.",
    "Persistent left lower lobe consolidation.",
    "The endotracheal tube remains in standard position.",
    "Redemonstrated small bilateral effusions.",
    "Previously described nodule is not well seen.",
    "Pulmonary edema has improved since yesterday.",
    "Since the previous exam, the heart has enlarged.",
    "Lung volumes are low as before.",
    "Appearance similar to the prior exam.",
    "Worsening opacity at the right base.",
    "As compared to the previous radiograph, the tube has been removed.",
    "Findings are unchanged from 2 days ago.",
    "Interval resolution of the left effusion.",
    "Compared with the outside film, no significant change.",
    "The pacemaker leads are in unchanged position.",
]
NEGATIVE = [
    "No prior studies available for comparison.",
    "No previous exams.",
    "There is no pleural effusion.",
    "The lungs are clear.",
    "Median sternotomy wires from prior CABG.",
    "Old healed left rib fractures.",
    "The left lung is darker compared to the right.",
    "Heart size is normal.",
    "Degenerative changes of the thoracic spine.",
    "Patient is hemodynamically stable per the requisition.",
    "Possible atelectasis at the left base.",
    "Status post cholecystectomy.",
    "There is a large right pleural effusion.",
    "Endotracheal tube terminates 4 cm above the carina.",
    "Increased opacity in the left lower lobe.",
    "Chronic interstitial changes.",
    "No acute cardiopulmonary process.",
    "Comparison: None.",
]


@pytest.mark.parametrize("s", POSITIVE)
def test_positive_sentences(s):
    assert prior_phrases(s), s
    assert mentions_prior(s)


@pytest.mark.parametrize("s", NEGATIVE)
def test_negative_sentences(s):
    assert prior_phrases(s) == [], s
    assert not mentions_prior(s)


def test_corpus_sizes():
    assert len(POSITIVE) + len(NEGATIVE) >= 30 and len(POSITIVE) >= 15 and len(NEGATIVE) >= 15


def test_mentions_prior_looks_at_every_sentence():
    assert mentions_prior("The lungs are clear. Heart size is unchanged.")
    assert not mentions_prior("No prior studies available for comparison. The lungs are clear.")


@pytest.mark.parametrize("text,expected", [
    ("Compared to the prior study, there is a new left effusion. The lungs are otherwise clear.",
     "There is a left effusion. The lungs are otherwise clear."),
    ("Left basilar opacity is again seen. No pneumothorax.", "Left basilar opacity is seen. No pneumothorax."),
    ("Heart size is unchanged. No pneumothorax.", "No pneumothorax."),
    ("There has been interval placement of a right internal jugular line.",
     "There has been placement of a right internal jugular line."),
    ("No prior studies available for comparison. The lungs are clear.", "The lungs are clear."),
    ("New small right effusion.", "Small right effusion."),
    ("There is a new effusion at the right base.", "There is an effusion at the right base."),
    ("The lungs are clear.  No effusion.", "The lungs are clear. No effusion."),
    ("Since the previous exam, a right effusion has developed. Heart normal.", "Heart normal."),
    # R2Gen-cleaned targets keep their style: lowercase, a space before punctuation
    ("compared to the prior study , there is a new left effusion . the lungs are clear .",
     "there is a left effusion . the lungs are clear ."),
    ("heart size is unchanged . no pneumothorax .", "no pneumothorax ."),
])
def test_remove_priors(text, expected):
    rw = remove_priors(text)
    assert rw.text == expected
    assert not mentions_prior(rw.text)


def test_remove_priors_counts():
    rw = remove_priors("Compared to the prior study, there is a new left effusion. Heart size is unchanged. Clear.")
    assert (rw.clauses_removed, rw.words_removed, rw.sentences_dropped) == (1, 1, 1) and rw.changed
    assert remove_priors("The lungs are clear.").changed is False
