"""IU X-ray (Indiana University / OpenI) reports → records.

3,955 de-identified reports with 7,470 images (Demner-Fushman et al., JAMIA 2016), CC BY-NC-ND 4.0:
https://openi.nlm.nih.gov/faq (``NLMCXR_reports.tgz``, ``NLMCXR_png.tgz``); the Kaggle copy
"chest-xrays-indiana-university" has ``indiana_reports.csv`` + ``indiana_projections.csv`` +
``images/images_normalized/``. The torchxrayvision wheel ships ``data/NLMCXR_reports.tgz``.

Inputs: the XML tarball (read without unpacking), a folder of the XML files, or the Kaggle CSV pair.
R2Gen's copy (``iu_xray/annotation.json`` + ``iu_xray/images/<R2Gen id>/0.png, 1.png``, distributed
by github.com/zhjohnchan/R2Gen and used by R2GenGPT, PromptMRG, …) is read with or without the XML:
``--annotation`` alone takes ids, split, report text and ``image_path`` from the annotation
(2,069/296/590 studies); with ``--reports`` too, sections and MeSH come from the XML, joined by R2Gen id.

Record id ``CXR<n>`` (the XML ``uId``; Kaggle ``uid`` n; the R2Gen id in annotation-only mode). IU
has no patient ids: one report per patient, so the patient id is the record id. MeSH major/minor
terms and the "Problems" list go to ``extra``; every image keeps its OpenI id. Views: Kaggle
``projection`` (FRONTAL/LATERAL), else the DICOM ``ViewPosition`` that torchxrayvision ships in
``data/nlmcxr_dicom_metadata.csv.gz`` (PA/AP/LL/RL/LATERAL; blank for 2,586 of its 7,470 images).
Images are ordered frontal first (LLaMA-XR's prompt lists frontal scores first); stats.json counts
the studies whose order came from each source (``view_order``).

Splits: ``random`` (by patient, seeded: ``val_frac``/``test_frac``) or ``r2gen`` (R2Gen's
``annotation.json``; a report's R2Gen id is its first image id without the last ``-NNNN`` group, see
:func:`r2gen_id`; reports not in the annotation are dropped, giving R2Gen's 2,069/296/590).
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib.util
import itertools
import os
import random
import re
import tarfile
import zlib
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree as ET

from cxrgen.data import csvio
from cxrgen.data.annotation import AnnEntry, read_annotation
from cxrgen.data.records import FRONTAL, ImageRef, Record
from cxrgen.data.sections import Sections, collapse
from cxrgen.data.source import (BAD_REPORT, EMPTY_REPORT, IMAGE_MISSING, NO_IMAGE, NO_VIEW, NOT_IN_ANNOTATION, ReportMaker, Stats,
                                view_kept, views_label)
from cxrgen.errors import InputError
from cxrgen.utils.io import safe_join
from cxrgen.workspace.hashing import raw_input

IMAGE_EXTS = (".dcm.png", ".png", ".jpg", ".jpeg", ".dcm")
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LAST_GROUP = re.compile(r"^(.+)-\d+$")
_UID_PART = re.compile(r"^(CXR\d+)_\d+_IM")
_R2GEN_FOLDER = re.compile(r"^CXR\d+(?:_\d+)?_IM-\d+(?:-\d+)*$")
_SECTIONS = {"FINDINGS": "findings", "IMPRESSION": "impression", "INDICATION": "indication",
             "COMPARISON": "comparison"}
_LATERAL = {"LL", "RL", "LATERAL", "LARGE LATERAL"}


def r2gen_id(image_id: str) -> str | None:
    """R2Gen's id for an OpenI image id: the id without its last ``-NNNN`` group.

    ``CXR1_1_IM-0001-3001`` → ``CXR1_1_IM-0001``, ``CXR10_IM-0002-1001`` → ``CXR10_IM-0002``,
    ``CXR2372_IM-0933-0001-0001`` → ``CXR2372_IM-0933-0001`` (404 of the 7,470 OpenI image ids have
    this four-group shape). ``None`` when there is no trailing numeric group. The rule is read off
    R2Gen's ``iu_xray/annotation.json`` (github.com/zhjohnchan/R2Gen), whose ids are the first image
    id of each report shortened this way.
    """
    m = _LAST_GROUP.match(image_id)
    return m.group(1) if m else None


def _strip_ext(name: str) -> str:
    low = name.lower()
    for ext in IMAGE_EXTS:
        if low.endswith(ext):
            return name[: -len(ext)]
    return name


@functools.lru_cache(maxsize=1)
def openi_views() -> dict[str, str]:
    """OpenI image id → DICOM ``ViewPosition`` (upper case, "" when blank) from the metadata table that
    torchxrayvision ships (``data/nlmcxr_dicom_metadata.csv.gz``, 7,470 images); {} without it."""
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.origin:
        return {}
    path = Path(spec.origin).parent / "data" / "nlmcxr_dicom_metadata.csv.gz"
    if not path.is_file():
        return {}
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return {row["imageid"]: (row.get("View Position") or "").strip().upper() for row in csv.DictReader(f)}


def _is_frontal(view: str) -> bool:
    return view in FRONTAL or view == "FRONTAL"


def order_views(images: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Frontal images first, then laterals, then images of unknown view; stable within each group."""
    rank = lambda im: 0 if _is_frontal(im[1]) else 1 if im[1] in _LATERAL else 2  # noqa: E731
    return sorted(images, key=rank)


class _Report:
    __slots__ = ("id", "where", "sections", "image_ids", "images", "mesh", "mesh_minor", "problems", "text", "order",
                 "split", "exact")

    def __init__(self, id_, where):
        self.id, self.where = id_, where
        self.sections = Sections()
        self.image_ids: list[str] = []
        self.images: list[tuple[str, str, str]] = []  # (image id, view, rel path)
        self.mesh: list[str] = []
        self.mesh_minor: list[str] = []
        self.problems: list[str] = []
        self.text: str | None = None  # annotation-only: the report text as R2Gen gives it
        self.order = "XML order (no view known)"
        self.split = ""
        self.exact = False  # image paths are exact (annotation image_path), not OpenI names to look up


def _parse_xml(data: bytes, where: str) -> _Report:
    root = ET.fromstring(data)
    uid = root.find("uId")
    if uid is None or not uid.get("id"):
        raise ET.ParseError("no <uId id=…> element")
    rep = _Report(uid.get("id"), where)
    for a in root.iter("AbstractText"):
        key = _SECTIONS.get((a.get("Label") or "").upper())
        if key:
            setattr(rep.sections, key, collapse("".join(a.itertext())))
    mesh = root.find("MeSH")
    if mesh is not None:
        rep.mesh = [collapse(m.text or "") for m in mesh.findall("major")]
        rep.mesh_minor = [collapse(m.text or "") for m in mesh.findall("minor")]
    rep.problems = list(dict.fromkeys(t.split("/")[0].strip() for t in rep.mesh if t))
    rep.image_ids = [p.get("id") for p in root.iter("parentImage") if p.get("id")]
    return rep


class IUSource:
    dataset = "iu"

    def __init__(self, cfg):
        self.cfg = cfg
        self.annotation = Path(cfg.annotation).expanduser().absolute() if cfg.annotation else None
        self.reports = Path(cfg.reports).expanduser().absolute() if cfg.reports else None
        if self.reports is not None and not self.reports.exists():
            raise InputError(f"{self.reports}: not found; --reports takes NLMCXR_reports.tgz, a folder of OpenI XML "
                             "files or Kaggle's indiana_reports.csv")
        self.kind = ("annotation" if self.reports is None else "csv" if self.reports.suffix.lower() == ".csv"
                     else "dir" if self.reports.is_dir() else "tgz")
        self.projections = Path(cfg.projections).expanduser().absolute() if cfg.projections else None
        if self.kind == "csv" and self.projections is None and \
                self.reports.with_name("indiana_projections.csv").is_file():
            self.projections = self.reports.with_name("indiana_projections.csv")
        self.images = Path(cfg.images).expanduser().absolute() if cfg.images else None
        if self.images is None and self.annotation is not None and (self.annotation.parent / "images").is_dir():
            self.images = self.annotation.parent / "images"  # R2Gen's iu_xray/{annotation.json,images/}
        if self.images is not None and not self.images.is_dir():
            raise InputError(f"{self.images}: --images is not a folder")
        self.root = str(self.images) if self.images else None
        self.views = frozenset(v.upper() for v in cfg.views)
        self._ann: list[AnnEntry] | None = None

    def inputs(self) -> list[dict]:
        out = [raw_input(p) for p in (self.reports, self.projections, self.annotation) if p]
        if self.images:
            out.append(raw_input(self.images))
        return out

    def annotation_entries(self) -> list[AnnEntry]:
        if self._ann is None:
            self._ann = read_annotation(self.annotation)
        return self._ann

    # --- reading ---------------------------------------------------------------------------
    def _xml_files(self) -> Iterator[tuple[str, bytes]]:
        if self.kind == "dir":
            for p in sorted(self.reports.rglob("*.xml")):
                yield str(p), p.read_bytes()
            return
        try:
            mode = "r:gz" if self.reports.name.lower().endswith((".tgz", ".gz")) else "r:*"
            with tarfile.open(self.reports, mode) as tar:
                for m in tar:
                    if m.isfile() and m.name.lower().endswith(".xml"):
                        f = tar.extractfile(m)
                        yield f"{self.reports}:{m.name}", f.read() if f else b""
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise InputError(f"{self.reports}: not a readable .tgz of OpenI XML reports ({' '.join(str(e).split())}); download "
                             "NLMCXR_reports.tgz again") from None

    def _read_xml(self, stats: Stats) -> list[_Report]:
        out: list[_Report] = []
        for where, data in self._xml_files():
            try:
                out.append(_parse_xml(data, where))
            except ET.ParseError as e:
                line = getattr(e, "position", (0, 0))[0]
                msg = f"{where} line {line}: malformed XML ({str(e).split(':')[0]})"
                if self.cfg.on_error == "fail":
                    raise InputError(msg) from None
                stats.drop(BAD_REPORT, msg)
        if not out and not stats.dropped:
            raise InputError(f"{self.reports}: no OpenI XML report (*.xml) found")
        views = openi_views()
        for rep in out:
            bad = [i for i in rep.image_ids if not _IMAGE_ID.match(i)]
            if bad:
                raise InputError(f"{rep.where}: image id {bad[0]!r} is not a plain file name (it would escape the "
                                 "image folder)")
            # the metadata writes CXR1_1_IM-0001-3001 (the only two-part uId) as CXR1_IM-0001-3001
            rep.images = [(i, views.get(i) or views.get(_UID_PART.sub(r"\1_IM", i), ""), f"{i}.png")
                          for i in rep.image_ids]
            known = sum(bool(v) for _, v, _ in rep.images)
            frontal = sum(_is_frontal(v) for _, v, _ in rep.images)
            if len(rep.images) > 1 and frontal == len(rep.images):
                # ViewPosition says PA for every image of 1,001 two-image studies: no order to learn
                rep.order = "XML order (DICOM metadata: every image frontal)"
            elif known:  # the XML lists images in no fixed view order: frontal first from the DICOM metadata
                rep.images = order_views(rep.images)
                rep.order = "DICOM metadata" if known == len(rep.images) else "DICOM metadata (some views blank)"
        return out

    def _read_csv(self) -> list[_Report]:
        out: list[_Report] = []
        path = self.reports
        for line, row in csvio.rows(path, ("uid", "findings", "impression"),
                                    fix="expected Kaggle's indiana_reports.csv"):
            rep = _Report(f"CXR{row['uid'].strip()}", f"{path} line {line}")
            for key in ("findings", "impression", "indication", "comparison"):
                setattr(rep.sections, key, collapse(row.get(key, "")))
            rep.mesh = [t.strip() for t in row.get("MeSH", "").split(";") if t.strip()]
            rep.problems = [t.strip() for t in row.get("Problems", "").split(";") if t.strip()]
            out.append(rep)
        if self.projections is None:
            raise InputError(f"{self.reports}: the Kaggle reports need --projections indiana_projections.csv "
                             "(the image list); not found beside it")
        by_id = {r.id: r for r in out}
        for line, row in csvio.rows(self.projections, ("uid", "filename", "projection"),
                                    fix="expected Kaggle's indiana_projections.csv"):
            rep = by_id.get(f"CXR{row['uid'].strip()}")
            name = row["filename"].strip()
            try:
                safe_join(self.images or self.projections.parent, name, what="image path")
            except InputError as e:
                raise InputError(f"{self.projections} line {line}: {e}") from None
            if rep is not None:
                image_id = f"CXR{_strip_ext(Path(name).name)}"
                rep.image_ids.append(image_id)
                rep.images.append((image_id, row["projection"].strip().upper(), name))
        for rep in out:
            if rep.images:
                rep.images, rep.order = order_views(rep.images), "Kaggle projections"
        return out

    def _read_annotation_only(self) -> list[_Report]:
        """R2Gen's annotation alone: one report per entry, text as given, images from image_path."""
        out = []
        for e in self.annotation_entries():
            rep = _Report(e.id, f"{self.annotation.name}:{e.split}")
            rep.text, rep.split, rep.exact = e.report, e.split, True
            rep.image_ids = [e.id] if e.image_path else []
            rep.images = [(_r2gen_image_id(p), "", p) for p in e.image_path]
            rep.order = "annotation image_path order"
            out.append(rep)
        return out

    def _check_unique(self, reps: list[_Report]) -> None:
        seen: dict[str, str] = {}
        for r in reps:
            if r.id in seen:
                raise InputError(f"{r.where}: duplicate report id {r.id} (also in {seen[r.id]})")
            seen[r.id] = r.where

    def _image_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for dirpath, _, files in os.walk(self.images):
            for name in files:
                rel = os.path.relpath(os.path.join(dirpath, name), self.images)
                index.setdefault(_strip_ext(name), rel)
        return index

    def r2gen_layout(self) -> bool:
        """Whether --images holds R2Gen's folders (``<R2Gen id>/0.png``) rather than OpenI's flat PNGs."""
        if self.images is None:
            return False
        for d in itertools.islice(self.images.iterdir(), 50):
            if d.is_dir() and _R2GEN_FOLDER.match(d.name) and any(d.glob("[0-9].png")):
                return True
        return False

    def _locate(self, reps: list[_Report], stats: Stats) -> None:
        """With --images: keep the images whose files exist (paths relative to --images)."""
        if self.images is None:
            return
        index = None
        for rep in reps:
            kept = []
            for image_id, view, rel in rep.images:
                if rep.exact:
                    found = rel if (self.images / rel).is_file() else None
                else:
                    index = self._image_index() if index is None else index
                    name = _strip_ext(Path(rel).name)
                    found = index.get(name) or index.get(image_id) or index.get(image_id.removeprefix("CXR"))
                if found is None:
                    stats.note(IMAGE_MISSING)
                    continue
                kept.append((image_id, view, found))
            if rep.images and not kept:
                stats.note("studies whose image files are all missing")
            rep.images = kept

    def _join_annotation(self, reps: list[_Report], stats: Stats) -> dict[str, AnnEntry]:
        """Match each XML/CSV report to an annotation entry by R2Gen id (first image id first); with
        R2Gen's image folders, the entry's image_path replaces the OpenI file names."""
        by_id = {e.id: e for e in self.annotation_entries()}
        hits: dict[str, AnnEntry] = {}
        use_paths = self.r2gen_layout()
        for rep in reps:
            cands = [rep.id] + [k for i in rep.image_ids if (k := r2gen_id(i))]
            hit = next((by_id[k] for k in cands if k in by_id), None)
            if hit is None:
                continue
            hits[rep.id] = hit
            if use_paths:
                rep.images = [(_r2gen_image_id(p), "", p) for p in hit.image_path]
                rep.order, rep.exact = "annotation image_path order", True
        used = {h.id for h in hits.values()}
        unmatched = [e.id for e in self.annotation_entries() if e.id not in used]
        if unmatched:
            stats.note("annotation.json ids without a matching report", len(unmatched))
            stats.info["unmatched_annotation_ids"] = unmatched[:3]
        return hits

    def _random_split(self, reps: list[Record]) -> None:
        cfg = self.cfg
        patients = sorted({r.patient_id for r in reps})
        random.Random(cfg.seed).shuffle(patients)
        n_test, n_val = round(cfg.test_frac * len(patients)), round(cfg.val_frac * len(patients))
        split_of = {p: "test" if k < n_test else "val" if k < n_test + n_val else "train" for k, p in enumerate(patients)}
        for r in reps:
            r.split = split_of[r.patient_id]

    def _reports(self, stats: Stats) -> list[_Report]:
        if self.kind == "annotation":
            return self._read_annotation_only()
        return self._read_csv() if self.kind == "csv" else self._read_xml(stats)

    def records(self, stats: Stats) -> Iterator[Record]:
        cfg = self.cfg
        reps = self._reports(stats)
        self._check_unique(reps)
        hits = self._join_annotation(reps, stats) if self.kind != "annotation" and cfg.split == "r2gen" else {}
        self._locate(reps, stats)
        make = ReportMaker(cfg, "iu")
        stats.info["clean"] = make.name
        no_view = NO_VIEW.format(views=views_label(cfg.views))
        out: list[Record] = []
        for rep in reps:
            report = make.clean_text(rep.text) if rep.text is not None else make(rep.sections)
            if not report:
                stats.drop(make.missing if rep.text is None else EMPTY_REPORT)
                continue
            if not rep.image_ids:
                stats.drop(NO_IMAGE)
                continue
            if self.kind != "annotation" and cfg.split == "r2gen" and rep.id not in hits:
                stats.drop(NOT_IN_ANNOTATION)
                continue
            if not rep.images:
                stats.drop(IMAGE_MISSING)
                continue
            kept = [im for im in rep.images if view_kept(im[1], self.views)]
            if not kept:
                stats.drop(no_view)
                continue
            stats.info["view_order"][rep.order] += 1
            out.extend(self._records(rep, report, kept, hits.get(rep.id)))
        if cfg.split == "random":
            self._random_split(out)
        yield from out

    def _records(self, rep: _Report, report: str, kept: list, hit: AnnEntry | None) -> list[Record]:
        s = rep.sections
        extra: dict = {"mesh": rep.mesh, "problems": rep.problems} if rep.text is None else {}
        if rep.mesh_minor:
            extra["mesh_minor"] = rep.mesh_minor
        if hit is not None:
            extra["r2gen_id"] = hit.id
        if self.kind == "annotation":
            source = {"dataset": "iu", "file": rep.where}
            extra["r2gen_id"] = rep.id
        else:
            source = {"dataset": "iu", "file": rep.where.replace(str(self.reports.parent) + os.sep, "")}
        split = hit.split if hit is not None else rep.split
        refs = [ImageRef(rel, view, image_id) for image_id, view, rel in kept]
        common = dict(patient_id=rep.id, split=split, report=report, findings=s.findings,
                      impression=s.impression, indication=s.indication, comparison=s.comparison, source=source)
        if self.cfg.per_image:
            return [Record(id=ref.image_id, images=[ref], extra=dict(extra, study_id=rep.id), **common)
                    for ref in refs]
        return [Record(id=rep.id, images=refs, extra=extra, **common)]

    def hints(self) -> dict[str, str]:
        """Likely fixes per drop reason, for the empty/lopsided-result messages."""
        out = {NO_IMAGE: "these reports list no image (XML parentImage, annotation image_path): check the input"}
        if self.r2gen_layout() and self.cfg.split != "r2gen":
            out[IMAGE_MISSING] = (f"{self.images} holds R2Gen-style folders (<id>/0.png): pass --annotation "
                                  "annotation.json so its image_path entries are used")
        elif self.images is not None and (self.images / "images").is_dir():
            out[IMAGE_MISSING] = (f"pass --images {self.images / 'images'} (the folder the image paths start in)")
        else:
            out[IMAGE_MISSING] = f"check --images {self.images}: it must hold the PNGs named in the reports"
        out[NOT_IN_ANNOTATION] = "check that --annotation is R2Gen's iu_xray annotation.json"
        return out


def _r2gen_image_id(rel: str) -> str:
    """``CXR1_1_IM-0001/0.png`` → ``CXR1_1_IM-0001/0`` (unique across the copy, unlike ``0``)."""
    return _strip_ext(rel.replace(os.sep, "/"))


def read(cfg) -> IUSource:
    return IUSource(cfg)
