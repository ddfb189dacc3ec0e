"""The clinical-efficacy part of ``score``: reference-label sources side by side, one headline.

Kept apart from :mod:`cxrgen.stages.score` (NLG metrics, files, workspace) so each can change alone.

Reference labels come from two sources, both scored whenever both exist:

* ``ref=labeler``: the labeler run on the reference text — the same labeler as the predictions, so a
  prediction equal to its reference scores F1 1.0 (R2Gen's ``compute_ce.py`` labels both sides this way);
* ``ref=dataset``: the prepared data set's ``labels`` (MIMIC-CXR-JPG's ``chexpert.csv``, produced by the
  CheXpert labeler on the report's impression section, or its last paragraph when there is none — not
  on the findings that cxrgen generates).

The headline (the plain ``ce_*`` keys of ``scores.json`` ``metrics``) is the source the run's setting
declares (``reference_labels``: ``auto`` by default = dataset when present, else labeler; ``labeler``; ``dataset``);
the other source's keys carry an ``@ref=<source>`` suffix. Every CE number is named with its source and
uncertain convention (``ce.headline`` and each variant's key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from cxrgen.errors import InputError

SOURCES = ("labeler", "dataset")
HEADLINE_CE = [(avg, stat) for avg in ("micro", "macro", "example") for stat in ("precision", "recall", "f1")]


@dataclass
class CEResult:
    metrics: dict[str, float] = field(default_factory=dict)
    doc: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, np.ndarray] = field(default_factory=dict)
    hyp_labels: list[dict] = field(default_factory=list)
    ref_labels: dict[str, list[dict]] = field(default_factory=dict)  # source → labels
    headline: str = "labeler"


def headline_source(setting: str, has_dataset: bool, why_not: str = "") -> str:
    """The reference source whose CE is the headline: ``setting`` is labeler | dataset | auto."""
    if setting == "labeler":
        return "labeler"
    if setting == "dataset":
        if not has_dataset:
            raise InputError(f"--reference-labels dataset: no data set labels ({why_not or 'no records given'}); "
                             "give --records records.jsonl whose lines carry 'labels', or use --reference-labels labeler")
        return "dataset"
    return "dataset" if has_dataset else "labeler"


def suffix(source: str, headline: str) -> str:
    """Metric-key suffix of a reference source: '' for the headline, '@ref=<source>' otherwise."""
    return "" if source == headline else f"@ref={source}"


def compute_ce(labeler: Any, hyps: list[str], refs: list[str], dataset: Optional[list[dict]], *,
               setting: str, uncertain: str, dataset_note: str = "") -> CEResult:
    """Label predictions (and references) with ``labeler``; CE for every available reference source.

    ``dataset`` is the data set's labels aligned with ``hyps`` (None when there are none; ``dataset_note``
    says why or where from). Returns headline metrics, the ``ce`` section of scores.json, bootstrap blocks
    (``ce:<subset>[@ref=<source>]``) and the labels. Raises InputError when ``setting`` is ``dataset``
    and there are no data set labels.
    """
    from cxrgen.metrics import bootstrap as bs
    from cxrgen.metrics import ce as cem
    from cxrgen.metrics.chexpert import CLASSES
    head = headline_source(setting, dataset is not None, dataset_note)
    out = CEResult(headline=head)
    out.hyp_labels = labeler.label_many(hyps)
    out.ref_labels["labeler"] = labeler.label_many(refs)
    if dataset is not None:
        out.ref_labels["dataset"] = dataset
    notes = {"labeler": f"{labeler.name} on the reference text",
             "dataset": dataset_note or "data set labels"}
    references: dict[str, Any] = {}
    for source in sorted(out.ref_labels, key=lambda src: src != head):  # headline first
        ref_l, sfx = out.ref_labels[source], suffix(source, head)
        variants: dict[str, Any] = {}
        for unc in cem.UNCERTAIN:
            v = variants[f"uncertain={unc}"] = {}
            for subset, classes in cem.SUBSETS.items():
                rm, hm = cem.binarize(ref_l, classes, unc), cem.binarize(out.hyp_labels, classes, unc)
                v[subset] = {"scores": cem.ce_scores(rm, hm), "per_class": cem.per_class(rm, hm, classes)}
                if unc == uncertain:
                    out.blocks[f"ce:{subset}{sfx}"] = bs.ce_block(rm, hm)
                    for avg, stat in HEADLINE_CE:
                        out.metrics[cem.headline_key(avg, stat, subset) + sfx] = v[subset]["scores"][f"{avg}_{stat}"]
        references[source] = {"name": f"ref={source}", "source": notes[source], "metric_suffix": sfx,
                              "variants": variants}
    out.doc = {
        "headline": {"reference": f"ref={head}", "uncertain": uncertain, "labeler": labeler.name},
        "references": references,
        "variants": references[head]["variants"],  # the headline source's, as before
        "classes": list(CLASSES), "five": list(cem.FIVE),
    }
    return out


def per_sample_labels(res: CEResult, i: int) -> dict[str, Any]:
    """Per-report label fields of per_sample.jsonl: predicted, headline reference, and the other source's."""
    from cxrgen.metrics.chexpert import CLASSES
    row: dict[str, Any] = {"labels": res.hyp_labels[i],
                           "reference_labels": {c: res.ref_labels[res.headline][i].get(c) for c in CLASSES}}
    for source, labels in res.ref_labels.items():
        if source != res.headline:
            row[f"reference_labels@ref={source}"] = {c: labels[i].get(c) for c in CLASSES}
    return row


def describe(res_doc: dict) -> str:
    """One line naming the CE headline and the sources: for settings.reference_labels and the table footer."""
    head = res_doc["headline"]["reference"]
    parts = [f"{r['name']}{' (headline)' if r['name'] == head else ''}: {r['source']}"
             for r in res_doc["references"].values()]
    return "; ".join(parts)
