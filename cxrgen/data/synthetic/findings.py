"""Which findings a synthetic study has (drawn independently at ``PREVALENCE``) and its CheXpert-14 labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cxrgen.data.records import CHEXPERT14

GENERATOR_VERSION = 1
MARKER = "synthetic.json"
GROUND_TRUTH = "ground_truth.jsonl"
PREVALENCE = {"cardiomegaly": 0.3, "effusion": 0.3, "pneumothorax": 0.22, "consolidation": 0.3,
              "nodule": 0.25, "devices": 0.3}
SIDES = ("right", "left")
LOBES = ("upper", "lower")
DEVICES = ("ett", "cvc", "ngt", "pacemaker")




@dataclass
class Findings:
    cardiomegaly: bool = False
    effusion: str = ""            # "", "right", "left", "bilateral"
    effusion_size: str = ""       # small/moderate/large (drawn accordingly)
    pneumothorax: str = ""        # "", "right", "left"
    consolidation: tuple = ()     # (side, lobe)
    nodules: list = field(default_factory=list)  # [(side, y, x-offset)]
    devices: tuple = ()
    uncertain: str = ""           # "", "atelectasis", "pneumonia"
    mention_edema: bool = False
    mention_nodules: bool = False


def draw_findings(rng: np.random.Generator) -> Findings:
    f = Findings()
    p = PREVALENCE
    f.cardiomegaly = bool(rng.random() < p["cardiomegaly"])
    if rng.random() < p["effusion"]:
        f.effusion = str(rng.choice(["right", "left", "bilateral"], p=[0.35, 0.35, 0.3]))
        f.effusion_size = str(rng.choice(["moderate", "large"]))
    if rng.random() < p["pneumothorax"]:
        f.pneumothorax = str(rng.choice(SIDES))
    if rng.random() < p["consolidation"]:
        f.consolidation = (str(rng.choice(SIDES)), str(rng.choice(LOBES)))
    if rng.random() < p["nodule"]:
        k = int(rng.integers(1, 3))
        f.nodules = [(str(rng.choice(SIDES)), float(rng.uniform(0.28, 0.5)), float(rng.uniform(-0.05, 0.05)))
                     for _ in range(k)]
    if rng.random() < p["devices"]:
        k = int(rng.integers(1, 3))
        f.devices = tuple(sorted(rng.choice(DEVICES, size=k, replace=False).tolist(), key=DEVICES.index))
    u = rng.random()
    f.uncertain = "atelectasis" if u < 0.07 else "pneumonia" if u < 0.12 else ""
    f.mention_edema = bool(rng.random() < 0.5)
    f.mention_nodules = bool(rng.random() < 0.3)
    return f


def labels_of(f: Findings) -> dict[str, int | None]:
    """CheXpert-14 labels of what the report says (see ``report_sentences``)."""
    lab: dict[str, int | None] = {c: None for c in CHEXPERT14}
    lab["Cardiomegaly"] = int(f.cardiomegaly)
    lab["Pleural Effusion"] = int(bool(f.effusion))
    lab["Pneumothorax"] = int(bool(f.pneumothorax))
    lab["Consolidation"] = int(bool(f.consolidation))
    if f.consolidation:
        lab["Lung Opacity"] = 1
    if f.nodules:
        lab["Lung Lesion"] = 1
    elif f.mention_nodules:
        lab["Lung Lesion"] = 0
    if f.devices:
        lab["Support Devices"] = 1
    if f.mention_edema:
        lab["Edema"] = 0
    if f.uncertain == "atelectasis":
        lab["Atelectasis"] = -1
    elif f.uncertain == "pneumonia":
        lab["Pneumonia"] = -1
    pathology = [c for c in CHEXPERT14 if c not in ("No Finding", "Support Devices")]
    if not any(lab[c] in (1, -1) for c in pathology):
        lab["No Finding"] = 1
    return lab
