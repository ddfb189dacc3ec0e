"""Synthetic chest X-rays with large, visible findings and matching reports, written to disk in the
MIMIC-CXR-JPG or IU X-ray (Kaggle CSV) layout and then prepared by that layout's own reader.

Each study draws six findings independently (prevalence 20–35 %): Cardiomegaly (a heart twice the
normal width), Pleural Effusion (white fluid with a meniscus, blunting the costophrenic angle),
Pneumothorax (black lateral lung without markings, bright pleural edge), Consolidation (+ Lung
Opacity; a dense white patch in one lobe), Lung Lesion (1–2 bright round nodules) and Support Devices
(endotracheal tube, central line, nasogastric tube, pacemaker). Reports follow MIMIC's layout with
varied headers/indications and systematic findings sentences: positive ("There is a large left pleural
effusion."), negated ("No pneumothorax.") and uncertain ("Possible atelectasis at the left base.") —
uncertain mentions are only used for findings the image does not show (Atelectasis, Pneumonia).
``ground_truth.jsonl`` holds the CheXpert-14 labels (1 / 0 / -1 / None, exactly what the report
says) and the drawing parameters of every study.

Frontal (PA/AP) for every study, a lateral for about half; the frontal of every 12th study and some
laterals are DICOM (8-bit MONOCHROME2, 12-bit-in-16 MONOCHROME1, 12-bit-in-16 MONOCHROME2), the rest
JPEG (MIMIC layout) or PNG (IU layout). The same seed gives the
same bytes. Nothing touches global RNG state.

The package splits along the generator's seams: ``findings`` (what a study has, its labels),
``reports`` (the text), ``drawing`` (the images), ``writing`` (files on disk); this module is the
reader that ``cxrgen prepare synthetic`` uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from cxrgen.data.records import Record
from cxrgen.data.source import Stats
from cxrgen.utils.io import naming_path
from cxrgen.utils.log import log
from cxrgen.workspace.hashing import raw_input
from cxrgen.data.synthetic.drawing import draw_frontal, draw_lateral  # noqa: F401  (public API)
from cxrgen.data.synthetic.findings import (GENERATOR_VERSION, GROUND_TRUTH, MARKER, Findings,  # noqa: F401
                                            draw_findings, labels_of)
from cxrgen.data.synthetic.reports import mimic_report, report_sentences  # noqa: F401
from cxrgen.data.synthetic.writing import generate  # noqa: F401

__all__ = ["Findings", "GENERATOR_VERSION", "GROUND_TRUTH", "MARKER", "SyntheticSource", "draw_findings",
           "draw_frontal", "draw_lateral", "ensure_dataset", "generate", "labels_of", "mimic_report",
           "read", "report_sentences"]


def _params(cfg) -> dict:
    return {"n": cfg.n, "seed": cfg.seed, "layout": cfg.layout, "image_size": cfg.image_size,
            "generator_version": GENERATOR_VERSION}


def ensure_dataset(root: Path, cfg) -> bool:
    """Generate the data set into ``root`` unless it is already there; returns True if generated.

    ``root`` is replaced only if cxrgen provably wrote it (its marker lists every file in it); a lock
    beside it keeps two runs from generating into the same folder at once.
    """
    from cxrgen.utils.owned import check_replaceable, finish_partial, intact, remove_owned, start_partial
    from cxrgen.workspace.lock import ArtifactLock
    params = _params(cfg)
    if intact(root, MARKER, params) or _legacy_marker(root) == params:
        return False
    check_replaceable(root, MARKER, "--root")  # before any work: never generate only to refuse later
    with ArtifactLock(root.with_name(f".{root.name}.lock"), f"synthetic data set {root}"):
        if intact(root, MARKER, params):  # another run finished it between our check and the lock
            return False
        tmp = root.with_name(root.name + ".partial")
        start_partial(tmp)
        log.info("writing %d synthetic studies (%s layout, seed %d) to %s", cfg.n, cfg.layout, cfg.seed, root)
        generate(tmp, cfg.n, cfg.seed, cfg.layout, cfg.image_size, cfg.workers)
        with naming_path(root):
            finish_partial(tmp, MARKER, params)
            remove_owned(root, MARKER, "--root")
            os.replace(tmp, root)
    return True


def _legacy_marker(root: Path) -> dict | None:
    """A marker written before markers listed their files (the parameters only): reused, never deleted."""
    try:
        doc = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "generator_version" in doc else None


class SyntheticSource:
    dataset = "synthetic"

    def __init__(self, cfg, root: Path):
        self.root_path = root
        self.cfg = cfg
        self.layout = cfg.layout
        if cfg.layout == "mimic":
            from cxrgen.data.mimic import MimicSource
            self.inner = MimicSource(dataclasses.replace(cfg, dataset="mimic", root=str(root), reports=str(root)))
        else:
            from cxrgen.data.iu import read as read_iu
            self.inner = read_iu(dataclasses.replace(
                cfg, dataset="iu", reports=str(root / "indiana_reports.csv"),
                projections=str(root / "indiana_projections.csv"), images=str(root / "images"),
                split="random" if cfg.split == "official" else cfg.split))

    @property
    def root(self) -> str | None:
        return self.inner.root

    def inputs(self) -> list[dict]:
        return self.inner.inputs() + [raw_input(self.root_path / GROUND_TRUTH)]

    def records(self, stats: Stats) -> Iterator[Record]:
        records = self._records(stats)
        return _with_prior_mentions(records, self.cfg, stats) if self.cfg.prior_mentions > 0 else records

    def _records(self, stats: Stats) -> Iterator[Record]:
        truth = {}
        with open(self.root_path / GROUND_TRUTH, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                truth[d["study_id"]] = d["labels"]
        for r in self.inner.records(stats):
            r.labels = dict(truth[r.extra.get("study_id", r.id)])
            r.source = dict(r.source, dataset="synthetic", layout=self.layout)
            yield r


# what MIMIC radiologists write about earlier films; on synthetic data there is never an earlier film
PRIOR_SENTENCES = ("Heart size is unchanged from the prior study.", "Compared to the prior radiograph, the lungs are clear.",
                   "No significant interval change.", "Mediastinal contours are stable.",
                   "Lung volumes are similar to the previous exam.")


def _with_prior_mentions(records: Iterator[Record], cfg, stats: Stats) -> Iterator[Record]:
    """``prior_mentions``: put one prior-referencing sentence first in that share of the reports (findings
    and the cleaned target), drawn per study from its own generator (the data set's images stay the same)."""
    from cxrgen.data.cleaning import get_cleaner
    clean = get_cleaner(cfg.clean, cfg.layout)
    for r in records:
        rng = np.random.default_rng([cfg.seed, int(hashlib.sha256(r.id.encode()).hexdigest()[:8], 16), 0x9E1])
        if rng.random() < cfg.prior_mentions:
            sentence = PRIOR_SENTENCES[int(rng.integers(len(PRIOR_SENTENCES)))]
            r.findings = f"{sentence} {r.findings}".strip()
            r.report = f"{clean(sentence)} {r.report}".strip()
            stats.note("synthetic: reports given a prior reference (prior_mentions)")
        yield r


def read(cfg, *, ws, name: str, dry_run: bool = False) -> SyntheticSource | None:
    root = Path(cfg.root).expanduser().absolute() if cfg.root else ws.root / "data" / name
    if dry_run and not (root / MARKER).is_file():  # nothing to read yet: the caller reports what would be made
        return None
    ensure_dataset(root, cfg)
    return SyntheticSource(cfg, root)
