"""Agreement of the rule-based labeler with the human MeSH tags of the OpenI (IU X-ray) reports.

The reports ship in the torchxrayvision wheel (``torchxrayvision/data/NLMCXR_reports.tgz``, 3,955 XML
files). A report's MeSH ``<major>`` tags (``Cardiomegaly``, ``Pleural Effusion/right/small`` …) were
assigned by people; the first component names the finding, later ones qualify it. A head such as
``cardiac shadow/enlarged`` matches a tag whose first component is "cardiac shadow" and that has an
"enlarged" component. The labeler reads FINDINGS + IMPRESSION.
A labeler output counts as positive when it is 1 or -1 (uncertain), as MeSH tags hedged findings too.
"""

from __future__ import annotations

import os
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

# comparison → (MeSH heads that make a report positive, labeler classes whose 1/-1 make it positive)
TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Cardiomegaly": (("cardiomegaly", "cardiac shadow/enlarged"), ("Cardiomegaly",)),
    "Pleural Effusion": (("pleural effusion",), ("Pleural Effusion",)),
    "Pneumothorax": (("pneumothorax", "hydropneumothorax"), ("Pneumothorax",)),
    "Atelectasis": (("pulmonary atelectasis",), ("Atelectasis",)),
    "Edema": (("pulmonary edema", "pulmonary congestion"), ("Edema",)),
    "Opacity": (("opacity", "airspace disease", "infiltrate", "consolidation", "pneumonia", "density/lung"),
                ("Lung Opacity", "Consolidation", "Pneumonia")),
    "Nodule/Mass": (("nodule", "mass"), ("Lung Lesion",)),
    "Fracture": (("fractures, bone",), ("Fracture",)),
    "Normal": (("normal",), ("No Finding",)),
}


def openi_tgz() -> Path:
    import importlib.util
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("torchxrayvision is not installed (pip install torchxrayvision)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "NLMCXR_reports.tgz"


@dataclass
class OpenIReport:
    id: str
    text: str
    mesh: frozenset[str]          # first components of the MeSH <major> tags
    tags: tuple[tuple[str, ...], ...] = ()  # every tag, split into its components


def read_openi(path: str | os.PathLike | None = None) -> list[OpenIReport]:
    out = []
    with tarfile.open(path or openi_tgz()) as tf:
        for member in tf.getmembers():
            if not member.name.endswith(".xml"):
                continue
            root = ET.fromstring(tf.extractfile(member).read())
            secs = {a.get("Label"): (a.text or "").strip() for a in root.iter("AbstractText")}
            text = " ".join(x for x in (secs.get("FINDINGS", ""), secs.get("IMPRESSION", "")) if x)
            tags = tuple(tuple(c.strip().lower() for c in (m.text or "").split("/")) for m in root.iter("major"))
            out.append(OpenIReport(Path(member.name).stem, text, frozenset(t[0] for t in tags), tags))
    out.sort(key=lambda r: int(r.id) if r.id.isdigit() else r.id)
    return out


def _has(r: OpenIReport, head: str) -> bool:
    first, *quals = head.split("/")
    if not quals:
        return first in r.mesh
    return any(t[0] == first and all(q in t[1:] for q in quals) for t in r.tags)


def agreement(reports: list[OpenIReport], labels: list[dict]) -> dict[str, dict]:
    """Per comparison: support, tp/fp/fn/tn, precision, recall, F1, accuracy, Cohen's kappa."""
    res = {}
    n = len(reports)
    for name, (heads, classes) in TARGETS.items():
        tp = fp = fn = tn = 0
        for r, lab in zip(reports, labels):
            gold = any(_has(r, h) for h in heads)
            pred = any(lab.get(c) in (1, -1) for c in classes)
            tp += gold and pred
            fp += pred and not gold
            fn += gold and not pred
            tn += not gold and not pred
        p = tp / (tp + fp) if tp + fp else 0.0
        rcl = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * rcl / (p + rcl) if p + rcl else 0.0
        acc = (tp + tn) / n if n else 0.0
        pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n) if n else 0.0
        kappa = (acc - pe) / (1 - pe) if pe < 1 else 0.0
        res[name] = {"support": tp + fn, "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": p, "recall": rcl,
                     "f1": f1, "accuracy": acc, "kappa": kappa}
    return res
