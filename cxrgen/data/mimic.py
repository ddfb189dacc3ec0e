"""MIMIC-CXR-JPG (images, metadata, split, labels) + MIMIC-CXR free-text reports → records.

MIMIC-CXR-JPG 2.0/2.1: 377,110 JPEGs of 227,827 studies of 65,379 patients (Beth Israel Deaconess,
2011–2016). Credentialed access on PhysioNet (CITI training + data use agreement):
https://physionet.org/content/mimic-cxr-jpg/ ; the reports are ``mimic-cxr-reports.zip`` of
https://physionet.org/content/mimic-cxr/ . Cite Johnson et al., Sci Data 6, 317 (2019).

Layout read (nothing is unpacked, no image file is opened or stat-ed)::

    ROOT/mimic-cxr-2.0.0-metadata.csv.gz   dicom_id, subject_id, study_id, ViewPosition [, path]
    ROOT/mimic-cxr-2.0.0-split.csv.gz      dicom_id, split (train | validate | test)
    ROOT/mimic-cxr-2.0.0-chexpert.csv.gz   study_id + the 14 CheXpert columns (optional)
    ROOT/mimic-cxr-2.0.0-negbio.csv.gz     the same from NegBio (optional, into ``extra["negbio"]``)
    ROOT/files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg
    REPORTS/[files/]pXX/pSUBJECT/sSTUDY.txt   or  mimic-cxr-reports.zip holding those paths

An optional ``path`` column in the metadata overrides the image path (e.g. ``.dcm`` files); it must
stay inside ROOT. Image paths are relative to ROOT.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cxrgen.data import csvio
from cxrgen.data.records import CHEXPERT14, ImageRef, Record
from cxrgen.data.sections import extract
from cxrgen.data.source import (BAD_REPORT, NO_REPORT, NO_SPLIT, NO_VIEW, ReportMaker, Stats, view_kept,
                                views_label)
from cxrgen.errors import InputError
from cxrgen.utils.io import safe_join
from cxrgen.workspace.hashing import raw_input

PREFIX = "mimic-cxr-2.0.0-"
SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
LABEL_VALUES = {"1.0": 1, "1": 1, "0.0": 0, "0": 0, "-1.0": -1, "-1": -1, "": None}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ZIP_NAME = re.compile(r"(?:^|/)p\d+/p(\d+)/s(\d+)\.txt$")


def _table(root: Path, kind: str, required: bool = True) -> Path | None:
    for name in (f"{PREFIX}{kind}.csv.gz", f"{PREFIX}{kind}.csv"):
        if (root / name).is_file():
            return root / name
    if required:
        raise InputError(f"{root}: {PREFIX}{kind}.csv.gz not found; --root must be the MIMIC-CXR-JPG folder "
                         "(the one holding mimic-cxr-2.0.0-*.csv.gz and files/)")
    return None


def _digits(value: str, what: str, path: Path, line: int) -> str:
    value = value.strip()
    if value.startswith("s") or value.startswith("p"):
        value = value[1:]
    if not value.isdigit():
        raise InputError(f"{path} line {line}: {what} {value!r} is not a number")
    return value


# --- reports -------------------------------------------------------------------------------
class DirReports:
    def __init__(self, folder: Path):
        base = folder / "files" if (folder / "files").is_dir() else folder
        self.base, self.location = base, str(base)

    def where(self, subject: str, study: str) -> str:
        return str(self.base / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt")

    def get(self, subject: str, study: str) -> bytes | None:
        try:
            with open(self.where(subject, study), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise InputError(f"{self.where(subject, study)}: cannot read ({e.strerror})") from None

    def input(self) -> dict:
        return raw_input(self.base)


class ZipReports:
    def __init__(self, path: Path):
        self.path, self.location = path, str(path)
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(f"{path}: not a readable zip archive ({e}); download mimic-cxr-reports.zip again") from None
        self.index: dict[str, zipfile.ZipInfo] = {}
        for info in self.zf.infolist():
            m = _ZIP_NAME.search(info.filename)
            if m:
                if m.group(2) in self.index:
                    raise InputError(f"{path}: study s{m.group(2)} appears twice ({self.index[m.group(2)].filename}, "
                                     f"{info.filename})")
                self.index[m.group(2)] = info
        if not self.index:
            raise InputError(f"{path}: no pXX/pSUBJECT/sSTUDY.txt report inside; is this mimic-cxr-reports.zip?")

    def where(self, subject: str, study: str) -> str:
        info = self.index.get(study)
        return f"{self.path}:{info.filename if info else f'p{subject[:2]}/p{subject}/s{study}.txt'}"

    def get(self, subject: str, study: str) -> bytes | None:
        info = self.index.get(study)
        if info is None:
            return None
        try:
            return self.zf.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise InputError(f"{self.path}: cannot read {info.filename} ({e}); the archive is damaged") from None

    def input(self) -> dict:
        return raw_input(self.path)


def open_reports(path: Path):
    if not path.exists():
        raise InputError(f"{path}: reports not found; pass --reports DIR (files/pXX/…/sSTUDY.txt) or mimic-cxr-reports.zip")
    return ZipReports(path) if path.is_file() else DirReports(path)


# --- tables --------------------------------------------------------------------------------
@dataclass
class _Image:
    dicom: str
    view: str
    path: str


def _labels(path: Path, fix: str) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for line, row in csvio.rows(path, ("study_id",) + CHEXPERT14, fix=fix):
        study = _digits(row["study_id"], "study_id", path, line)
        if study in out:
            raise InputError(f"{path} line {line}: duplicate study_id {study}")
        try:
            out[study] = tuple(LABEL_VALUES[row[c].strip()] for c in CHEXPERT14)
        except KeyError as e:
            raise InputError(f"{path} line {line}: label value {e.args[0]!r} is not one of 1.0, 0.0, -1.0 or empty") from None
    return out


class MimicSource:
    dataset = "mimic"

    def __init__(self, cfg, root: Path | None = None, reports: Path | None = None):
        self.cfg = cfg
        self.root_path = Path(root or cfg.root).expanduser().absolute()
        if not self.root_path.is_dir():
            raise InputError(f"{self.root_path}: --root is not a folder; point it at the MIMIC-CXR-JPG root")
        self.root = str(self.root_path)
        self.meta = _table(self.root_path, "metadata")
        self.split = _table(self.root_path, "split")
        self.chexpert = _table(self.root_path, "chexpert", required=False)
        self.negbio = _table(self.root_path, "negbio", required=False)
        self.reports = open_reports(Path(reports or cfg.reports or self.root_path).expanduser().absolute())
        self.views = frozenset(v.upper() for v in cfg.views)

    def inputs(self) -> list[dict]:
        files = [p for p in (self.meta, self.split, self.chexpert, self.negbio) if p]
        return [raw_input(p) for p in files] + [self.reports.input()]

    # ------------------------------------------------------------------------------------
    def _studies(self) -> dict[str, tuple[str, list[_Image]]]:
        studies: dict[str, tuple[str, list[_Image]]] = {}
        seen: dict[str, int] = {}
        meta = self.meta
        for line, row in csvio.rows(meta, ("dicom_id", "subject_id", "study_id", "ViewPosition")):
            dicom = row["dicom_id"].strip()
            if not _ID.match(dicom):
                raise InputError(f"{meta} line {line}: dicom_id {dicom!r} is not a valid file name")
            if dicom in seen:
                raise InputError(f"{meta} line {line}: duplicate dicom_id {dicom} (first on line {seen[dicom]})")
            seen[dicom] = line
            subject = _digits(row["subject_id"], "subject_id", meta, line)
            study = _digits(row["study_id"], "study_id", meta, line)
            rel = row.get("path", "").strip()
            if rel:
                try:
                    safe_join(self.root_path, rel, what="image path")
                except InputError as e:
                    raise InputError(f"{meta} line {line}: {e}") from None
            else:
                rel = f"files/p{subject[:2]}/p{subject}/s{study}/{dicom}.jpg"
            entry = studies.get(study)
            if entry is None:
                entry = studies[study] = (subject, [])
            elif entry[0] != subject:
                raise InputError(f"{meta} line {line}: study {study} belongs to subjects {entry[0]} and {subject}")
            entry[1].append(_Image(dicom, row["ViewPosition"].strip().upper(), rel))
        return studies

    def _splits(self) -> dict[str, str]:
        out: dict[str, str] = {}
        path = self.split
        for line, row in csvio.rows(path, ("dicom_id", "split")):
            dicom, split = row["dicom_id"].strip(), row["split"].strip().lower()
            if split not in SPLITS:
                raise InputError(f"{path} line {line}: split {row['split']!r} is not train, validate or test")
            if dicom in out:
                raise InputError(f"{path} line {line}: duplicate dicom_id {dicom}")
            out[dicom] = SPLITS[split]
        return out

    def records(self, stats: Stats) -> Iterator[Record]:
        cfg = self.cfg
        studies = self._studies()
        splits = self._splits()
        fix = "the labels file must have study_id and the 14 CheXpert columns"
        chexpert = _labels(self.chexpert, fix) if self.chexpert else None
        negbio = _labels(self.negbio, fix) if self.negbio else None
        make = ReportMaker(cfg, "mimic")
        no_view = NO_VIEW.format(views=views_label(cfg.views))
        tried = found = 0
        for study, (subject, images) in studies.items():
            kept = [im for im in images if view_kept(im.view, self.views)]
            if not kept:
                stats.drop(no_view)
                continue
            in_split = [im for im in kept if im.dicom in splits]
            if len(in_split) < len(kept):
                stats.note("images not in split file", len(kept) - len(in_split))
            if not in_split:
                stats.drop(NO_SPLIT)
                continue
            split = splits[in_split[0].dicom]
            if any(splits[im.dicom] != split for im in in_split):
                raise InputError(f"{self.split}: the images of study {study} are in different splits")
            raw = self.reports.get(subject, study)
            tried += 1
            if raw is None:
                if cfg.on_error == "fail":
                    raise InputError(f"{self.reports.where(subject, study)}: report not found (study {study} is in "
                                     f"{self.meta.name}); use on_error=skip to count and skip such studies")
                stats.drop(NO_REPORT, self.reports.where(subject, study))
                continue
            found += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                line = raw[:e.start].count(b"\n") + 1
                where = f"{self.reports.where(subject, study)} line {line}"
                if cfg.on_error == "fail":
                    raise InputError(f"{where}: not UTF-8 text (byte {raw[e.start]:#04x})") from None
                stats.drop(BAD_REPORT, where)
                continue
            sec = extract(text)
            report = make(sec)
            if not report:
                stats.drop(make.missing)
                continue
            labels = dict(zip(CHEXPERT14, chexpert[study])) if chexpert and study in chexpert else {}
            if chexpert is not None and not labels:
                stats.note("studies without CheXpert labels")
            extra: dict = {}
            if negbio and study in negbio:
                extra["negbio"] = dict(zip(CHEXPERT14, negbio[study]))
            if report and not (sec.findings or sec.impression):
                extra["section"] = "last_paragraph"
            source = {"dataset": "mimic", "file": f"files/p{subject[:2]}/p{subject}/s{study}.txt"}
            common = dict(patient_id=subject, split=split, report=report, findings=sec.findings,
                          impression=sec.impression, indication=sec.indication, comparison=sec.comparison,
                          labels=labels, source=source)
            refs = [ImageRef(im.path, im.view, im.dicom) for im in in_split]
            if cfg.per_image:
                for ref in refs:
                    yield Record(id=ref.image_id, images=[ref], extra=dict(extra, study_id=study), **common)
            else:
                yield Record(id=study, images=refs, extra=extra, **common)
        if tried and not found:
            raise InputError(f"{self.reports.location}: no report found for any of {tried} studies"
                             "; the reports are not part of MIMIC-CXR-JPG: pass --reports mimic-cxr-reports.zip "
                             "(or the folder holding files/pXX/…)")


def read(cfg, **kw) -> MimicSource:
    return MimicSource(cfg, **kw)
