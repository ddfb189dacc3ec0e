"""R2Gen's MIMIC-CXR copy (``mimic_cxr/annotation.json`` + ``mimic_cxr/images/pXX/…/*.jpg``) → records.

The copy distributed by github.com/zhjohnchan/R2Gen holds one entry per image
``{id (dicom_id), study_id, subject_id, report, image_path, split}``; R2GenGPT trains and tests on
exactly these entries (270,790 train / 2,130 val / 3,858 test, R2GenGPT paper §4.1), with the report
text as given (R2Gen extracted it from the free-text reports) cleaned by R2GenGPT's rules
(``--clean r2gengpt``, :mod:`cxrgen.data.cleaning`; the CLI default for this copy).

One record per entry (``--per-image`` splits entries that list several images); the record id is
the entry id, the patient id its ``subject_id``, ``extra["study_id"]`` its study. With ``--root``
(the MIMIC-CXR-JPG folder) the official ``ViewPosition`` of every image (metadata table) and the
official CheXpert labels (``mimic-cxr-2.0.0-chexpert.csv.gz``, by study) are joined; without it views
are unknown ("") and labels empty. Images are checked to exist when the images folder does.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterator

from cxrgen.data import csvio
from cxrgen.data.annotation import read_annotation
from cxrgen.data.records import CHEXPERT14, ImageRef, Record
from cxrgen.data.source import EMPTY_REPORT, IMAGE_MISSING, NO_IMAGE, NO_VIEW, ReportMaker, Stats, view_kept, views_label
from cxrgen.errors import InputError
from cxrgen.workspace.hashing import raw_input


class MimicAnnotationSource:
    dataset = "mimic"

    def __init__(self, cfg):
        from cxrgen.data.mimic import _table
        self.cfg = cfg
        self.annotation = Path(cfg.annotation).expanduser().absolute()
        if not self.annotation.is_file():
            raise InputError(f"{self.annotation}: annotation file not found; pass R2Gen's mimic_cxr/annotation.json")
        images = Path(cfg.images).expanduser().absolute() if cfg.images else self.annotation.parent / "images"
        if cfg.images and not images.is_dir():
            raise InputError(f"{images}: --images is not a folder")
        self.images = images if images.is_dir() else None
        self.root = str(self.images) if self.images else None
        self.jpg_root = Path(cfg.root).expanduser().absolute() if cfg.root else None
        if self.jpg_root is not None and not self.jpg_root.is_dir():
            raise InputError(f"{self.jpg_root}: --root is not a folder; point it at the MIMIC-CXR-JPG root")
        self.meta = _table(self.jpg_root, "metadata", required=False) if self.jpg_root else None
        self.chexpert = _table(self.jpg_root, "chexpert", required=False) if self.jpg_root else None
        self.views = frozenset(v.upper() for v in cfg.views)

    def inputs(self) -> list[dict]:
        # the images folder is not hashed (377k files); its path is part of the config
        return [raw_input(p) for p in (self.annotation, self.meta, self.chexpert) if p]

    def _views(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.meta is None:
            return out
        for _, row in csvio.rows(self.meta, ("dicom_id", "ViewPosition"), fix="expected mimic-cxr-2.0.0-metadata.csv.gz"):
            out[row["dicom_id"].strip()] = row["ViewPosition"].strip().upper()
        return out

    def hints(self) -> dict[str, str]:
        where = self.images or self.annotation.parent / "images"
        missing = (f"pass --images {where / 'images'} (the folder the image paths start in)"
                   if (where / "images").is_dir() else
                   f"{where} must hold the annotation's image_path files (pXX/pSUBJECT/sSTUDY/*.jpg); pass --images DIR")
        return {IMAGE_MISSING: missing,
                NO_VIEW.format(views=views_label(self.cfg.views)):
                    "views are known only with --root (the MIMIC-CXR-JPG metadata); pass --root or --views all"}

    def records(self, stats: Stats) -> Iterator[Record]:
        from cxrgen.data.mimic import _labels
        cfg = self.cfg
        entries = read_annotation(self.annotation, need=("study_id", "subject_id"))
        views = self._views()
        fix = "the labels file must have study_id and the 14 CheXpert columns"
        labels = _labels(self.chexpert, fix) if self.chexpert else None
        make = ReportMaker(cfg, "mimic")
        stats.info["clean"] = make.name
        no_view = NO_VIEW.format(views=views_label(cfg.views))
        per_study: dict[str, set] = defaultdict(set)
        for e in entries:
            study, subject = e.fields["study_id"].removeprefix("s"), e.fields["subject_id"].removeprefix("p")
            per_study[study].add(e.split)
            report = make.clean_text(e.report)
            if not report:
                stats.drop(EMPTY_REPORT)
                continue
            if not e.image_path:
                stats.drop(NO_IMAGE)
                continue
            refs = [ImageRef(p, views.get(e.id, ""), e.id if len(e.image_path) == 1 else f"{e.id}/{k}")
                    for k, p in enumerate(e.image_path)]
            if self.images is not None:
                present = [r for r in refs if (self.images / r.path).is_file()]
                if len(present) < len(refs):
                    stats.note(IMAGE_MISSING, len(refs) - len(present))
                if not present:
                    stats.drop(IMAGE_MISSING)
                    continue
                refs = present
            refs = [r for r in refs if view_kept(r.view, self.views)]
            if not refs:
                stats.drop(no_view)
                continue
            lab = dict(zip(CHEXPERT14, labels[study])) if labels and study in labels else {}
            if labels is not None and not lab:
                stats.note("entries without CheXpert labels")
            common = dict(patient_id=subject, split=e.split, report=report, labels=lab,
                          source={"dataset": "mimic", "file": f"{self.annotation.name}:{e.split}"})
            if cfg.per_image:
                for r in refs:
                    yield Record(id=r.image_id, images=[r], extra={"study_id": study, "r2gen_id": e.id}, **common)
            else:
                yield Record(id=e.id, images=refs, extra={"study_id": study}, **common)
        mixed = sum(len(s) > 1 for s in per_study.values())
        if mixed:  # R2Gen's split is by image; a study in two splits leaks text between them
            stats.note("studies with images in two splits", mixed)
