"""IU X-ray (Indiana University / OpenI) reports → records.

3,955 de-identified reports with 7,470 images (Demner-Fushman et al., JAMIA 2016), CC BY-NC-ND 4.0:
https://openi.nlm.nih.gov/faq (``NLMCXR_reports.tgz``, ``NLMCXR_png.tgz``); the Kaggle copy
"chest-xrays-indiana-university" has ``indiana_reports.csv`` + ``indiana_projections.csv`` +
``images/images_normalized/``. The torchxrayvision wheel ships ``data/NLMCXR_reports.tgz``.

Inputs: the XML tarball (read without unpacking), a folder of the XML files, or the Kaggle CSV pair.
Record id ``CXR<n>`` (the XML ``uId``; Kaggle ``uid`` n). IU has no patient ids: one report per
patient, so the patient id is the record id. MeSH major/minor terms and the "Problems" list go to
``extra``; every image keeps its OpenI id. Views: Kaggle ``projection`` (FRONTAL/LATERAL); the XML
does not record views (""), so ``--views`` other than ``all`` needs the Kaggle CSVs.

Splits: ``random`` (by patient, seeded: ``val_frac``/``test_frac``) or ``r2gen`` (R2Gen's
``annotation.json``: its ids ``CXR<n>_IM-<nnnn>`` are matched against the image ids of each report;
reports not in it are dropped, giving R2Gen's 2,069/296/590).
"""

from __future__ import annotations

import json
import os
import random
import re
import tarfile
import zlib
from pathlib import Path
from typing import Iterator
from xml.etree import ElementTree as ET

from cxrgen.data import csvio
from cxrgen.data.records import ImageRef, Record
from cxrgen.data.sections import Sections, collapse
from cxrgen.data.source import (BAD_REPORT, IMAGE_MISSING, NO_IMAGE, NO_VIEW, NOT_IN_ANNOTATION, ReportMaker, Stats,
                                view_kept, views_label)
from cxrgen.errors import InputError
from cxrgen.utils.io import safe_join
from cxrgen.workspace.hashing import raw_input

IMAGE_EXTS = (".dcm.png", ".png", ".jpg", ".jpeg", ".dcm")
_IMAGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ANN_KEY = re.compile(r"^(CXR\d+(?:_\d+)?_IM-\d+)")
_SECTIONS = {"FINDINGS": "findings", "IMPRESSION": "impression", "INDICATION": "indication",
             "COMPARISON": "comparison"}


def _strip_ext(name: str) -> str:
    low = name.lower()
    for ext in IMAGE_EXTS:
        if low.endswith(ext):
            return name[: -len(ext)]
    return name


class _Report:
    __slots__ = ("id", "where", "sections", "image_ids", "images", "mesh", "mesh_minor", "problems")

    def __init__(self, id_, where):
        self.id, self.where = id_, where
        self.sections = Sections()
        self.image_ids: list[str] = []
        self.images: list[tuple[str, str, str]] = []  # (image id, view, rel path)
        self.mesh: list[str] = []
        self.mesh_minor: list[str] = []
        self.problems: list[str] = []


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
        self.reports = Path(cfg.reports).expanduser().absolute()
        if not self.reports.exists():
            raise InputError(f"{self.reports}: not found; --reports takes NLMCXR_reports.tgz, a folder of OpenI XML "
                             "files or Kaggle's indiana_reports.csv")
        self.kind = ("csv" if self.reports.suffix.lower() == ".csv" else "dir" if self.reports.is_dir() else "tgz")
        self.projections = Path(cfg.projections).expanduser().absolute() if cfg.projections else None
        if self.kind == "csv" and self.projections is None:
            guess = self.reports.with_name("indiana_projections.csv")
            if not guess.is_file():
                raise InputError(f"{self.reports}: the Kaggle reports need --projections indiana_projections.csv "
                                 "(the image list); not found beside it")
            self.projections = guess
        self.images = Path(cfg.images).expanduser().absolute() if cfg.images else None
        if self.images is not None and not self.images.is_dir():
            raise InputError(f"{self.images}: --images is not a folder")
        self.annotation = Path(cfg.annotation).expanduser().absolute() if cfg.annotation else None
        self.root = str(self.images) if self.images else None
        self.views = frozenset(v.upper() for v in cfg.views)

    def inputs(self) -> list[dict]:
        out = [raw_input(self.reports)]
        out += [raw_input(p) for p in (self.projections, self.annotation) if p]
        if self.images:
            out.append(raw_input(self.images))
        return out

    # --- reading ---------------------------------------------------------------------------
    def _xml_files(self) -> Iterator[tuple[str, bytes]]:
        if self.kind == "dir":
            for p in sorted(self.reports.rglob("*.xml")):
                yield str(p), p.read_bytes()
            return
        try:
            with tarfile.open(self.reports, "r:*") as tar:
                for m in tar:
                    if m.isfile() and m.name.lower().endswith(".xml"):
                        f = tar.extractfile(m)
                        yield f"{self.reports}:{m.name}", f.read() if f else b""
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise InputError(f"{self.reports}: not a readable .tgz of OpenI XML reports ({e}); download "
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
        for rep in out:  # the XML does not say which image is frontal
            bad = [i for i in rep.image_ids if not _IMAGE_ID.match(i)]
            if bad:
                raise InputError(f"{rep.where}: image id {bad[0]!r} is not a plain file name (it would escape the "
                                 "image folder)")
            rep.images = [(i, "", f"{i}.png") for i in rep.image_ids]
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

    def _locate(self, reps: list[_Report], stats: Stats) -> None:
        """With --images: keep the images whose files exist (paths relative to --images)."""
        if self.images is None:
            return
        index = self._image_index()
        for rep in reps:
            kept = []
            for image_id, view, rel in rep.images:
                name = _strip_ext(Path(rel).name)
                found = index.get(name) or index.get(image_id) or index.get(image_id.removeprefix("CXR"))
                if found is None:
                    stats.note(IMAGE_MISSING)
                    continue
                kept.append((image_id, view, found))
            if rep.images and not kept:
                stats.note("studies whose image files are all missing")
            rep.images = kept

    def _splits(self, reps: list[Record], stats: Stats, keys: dict[str, list[str]]) -> list[Record]:
        cfg = self.cfg
        if cfg.split == "r2gen":
            ann = _read_annotation(self.annotation)
            out, used = [], set()
            for r in reps:
                hit = next((k for k in [r.id] + keys[r.id] if k in ann), None)
                if hit is None:
                    stats.drop(NOT_IN_ANNOTATION)
                    continue
                used.add(hit)
                r.split = ann[hit]
                r.extra["r2gen_id"] = hit
                out.append(r)
            if len(used) < len(ann):
                stats.note("annotation.json ids without a matching report", len(ann) - len(used))
            return out
        patients = sorted({r.patient_id for r in reps})
        random.Random(cfg.seed).shuffle(patients)
        n_test, n_val = round(cfg.test_frac * len(patients)), round(cfg.val_frac * len(patients))
        split_of = {p: "test" if k < n_test else "val" if k < n_test + n_val else "train" for k, p in enumerate(patients)}
        for r in reps:
            r.split = split_of[r.patient_id]
        return reps

    def records(self, stats: Stats) -> Iterator[Record]:
        cfg = self.cfg
        reps = self._read_csv() if self.kind == "csv" else self._read_xml(stats)
        self._check_unique(reps)
        self._locate(reps, stats)
        make = ReportMaker(cfg, "iu")
        no_view = NO_VIEW.format(views=views_label(cfg.views))
        out: list[Record] = []
        keys: dict[str, list[str]] = {}
        for rep in reps:
            report = make(rep.sections)
            if not report:
                stats.drop(make.missing)
                continue
            if not rep.images:
                stats.drop(IMAGE_MISSING if rep.image_ids and self.images else NO_IMAGE)
                continue
            kept = [im for im in rep.images if view_kept(im[1], self.views)]
            if not kept:
                stats.drop(no_view)
                continue
            s = rep.sections
            extra = {"mesh": rep.mesh, "problems": rep.problems}
            if rep.mesh_minor:
                extra["mesh_minor"] = rep.mesh_minor
            source = {"dataset": "iu", "file": rep.where.replace(str(self.reports.parent) + os.sep, "")}
            refs = [ImageRef(rel, view, image_id) for image_id, view, rel in kept]
            keys[rep.id] = [m.group(1) for i in rep.image_ids if (m := _ANN_KEY.match(i))]
            common = dict(patient_id=rep.id, split="", report=report, findings=s.findings, impression=s.impression,
                          indication=s.indication, comparison=s.comparison, source=source)
            if cfg.per_image:
                for ref in refs:
                    out.append(Record(id=ref.image_id, images=[ref], extra=dict(extra, study_id=rep.id), **common))
                    keys[ref.image_id] = keys[rep.id]
            else:
                out.append(Record(id=rep.id, images=refs, extra=extra, **common))
        yield from self._splits(out, stats, keys)


def _read_annotation(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: annotation file not found") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not any(k in data for k in ("train", "val", "test")):
        raise InputError(f"{path}: expected R2Gen's annotation.json, an object with 'train', 'val' and 'test' lists")
    out: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for k, item in enumerate(data.get(split, [])):
            if not isinstance(item, dict) or "id" not in item:
                raise InputError(f"{path}: {split}[{k}] has no 'id'")
            if item["id"] in out:
                raise InputError(f"{path}: id {item['id']!r} is in both {out[item['id']]} and {split}")
            out[item["id"]] = split
    return out


def read(cfg) -> IUSource:
    return IUSource(cfg)
