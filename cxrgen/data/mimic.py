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

import itertools
import operator
import os
import re
import zipfile
from collections import deque
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
from cxrgen.workspace.hashing import dir_signature, raw_input

PREFIX = "mimic-cxr-2.0.0-"
SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
LABEL_VALUES = {"1.0": 1, "1": 1, "0.0": 0, "0": 0, "-1.0": -1, "-1": -1, "": None}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
READ_THREADS = 8
_ZIP_NAME = re.compile(r"(?:^|/)p\d+/p(\d+)/s(\d+)\.txt$")


def _table(root: Path, kind: str, required: bool = True) -> Path | None:
    for name in (f"{PREFIX}{kind}.csv.gz", f"{PREFIX}{kind}.csv"):
        if (root / name).is_file():
            return root / name
    if required:
        raise InputError(f"{root}: {PREFIX}{kind}.csv.gz not found; --root must be the MIMIC-CXR-JPG folder "
                         "(the one holding mimic-cxr-2.0.0-*.csv.gz and files/)")
    return None


def _earlier_studies(studies: dict, dates: dict[str, str]) -> dict[str, int]:
    """Study → how many studies of the same patient the metadata dates earlier (none dated: left out)."""
    by_subject: dict[str, list[str]] = {}
    for study, (subject, _) in studies.items():
        if study in dates:
            by_subject.setdefault(subject, []).append(dates[study])
    return {study: sum(d < dates[study] for d in by_subject[subject])
            for study, (subject, _) in studies.items() if study in dates}


def _time(value: str) -> str:
    """StudyTime (HHMMSS.ffffff, often without leading zeros in MIMIC) as fixed-width sortable text."""
    try:
        return f"{float(value or 0):013.6f}"
    except ValueError:
        return value.strip()


def _digits(value: str, what: str, path: Path, line: int) -> str:
    if value.isdigit():
        return value
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
        return f"{self.location}{os.sep}p{subject[:2]}{os.sep}p{subject}{os.sep}s{study}.txt"

    def get(self, subject: str, study: str) -> bytes | None:
        try:
            with open(self.where(subject, study), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise InputError(f"{self.where(subject, study)}: cannot read ({e.strerror})") from None

    def get_many(self, keys: list[tuple[str, str]]) -> Iterator[bytes | None]:
        """Reports in the order of ``keys``, read ahead by a few threads: reading 200k small files is
        bound by the latency of each open/read, which threads overlap (the GIL is released)."""
        from concurrent.futures import ThreadPoolExecutor
        window = 512
        with ThreadPoolExecutor(READ_THREADS) as ex:
            pending: deque = deque()
            it = iter(keys)
            for key in itertools.islice(it, window):
                pending.append(ex.submit(self.get, *key))
            while pending:
                yield pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(ex.submit(self.get, *nxt))

    def input(self) -> dict:
        # only the report files: images that may share the tree never make the records stale
        return {"kind": "dir", "path": str(self.base), "suffix": ".txt", "signature": dir_signature(self.base, ".txt")}


class ZipReports:
    def __init__(self, path: Path):
        self.path, self.location = path, str(path)
        try:
            self.zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as e:
            raise InputError(f"{path}: not a readable zip archive ({' '.join(str(e).split())}); download "
                             "mimic-cxr-reports.zip again") from None
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

    def get_many(self, keys: list[tuple[str, str]]) -> Iterator[bytes | None]:
        return (self.get(*k) for k in keys)


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
    table = csvio.Table(path, ("study_id",) + CHEXPERT14, fix=fix)
    get = LABEL_VALUES.get
    for line, row in table:
        if not out:
            i_study, pick = table.col["study_id"], operator.itemgetter(*[table.col[c] for c in CHEXPERT14])
        study = _digits(row[i_study], "study_id", path, line)
        if study in out:
            raise InputError(f"{path} line {line}: duplicate study_id {study}")
        try:
            values = tuple(map(LABEL_VALUES.__getitem__, pick(row)))
        except KeyError:
            values = tuple(get(v.strip(), "?") for v in pick(row))
            if "?" in values:
                bad = next(v for v in pick(row) if get(v.strip(), "?") == "?")
                raise InputError(f"{path} line {line}: label value {bad!r} is not one of 1.0, 0.0, -1.0 or empty") from None
        out[study] = values
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
        self.study_dates: dict[str, str] = {}
        seen: dict[str, int] = {}
        meta = self.meta
        table = csvio.Table(meta, ("dicom_id", "subject_id", "study_id", "ViewPosition"))
        match = _ID.match
        for line, row in table:
            if not seen:
                c = table.col
                i_dicom, i_subject, i_study, i_view = c["dicom_id"], c["subject_id"], c["study_id"], c["ViewPosition"]
                i_path = c.get("path")
                i_date, i_time = c.get("StudyDate"), c.get("StudyTime")  # optional: orders a patient's studies
            dicom = row[i_dicom].strip()
            if not match(dicom):
                raise InputError(f"{meta} line {line}: dicom_id {dicom!r} is not a valid file name")
            if dicom in seen:
                raise InputError(f"{meta} line {line}: duplicate dicom_id {dicom} (first on line {seen[dicom]})")
            seen[dicom] = line
            subject = _digits(row[i_subject], "subject_id", meta, line)
            study = _digits(row[i_study], "study_id", meta, line)
            rel = row[i_path].strip() if i_path is not None else ""
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
            entry[1].append(_Image(dicom, row[i_view].strip().upper(), rel))
            if i_date is not None and row[i_date].strip():
                # YYYYMMDD + zero-padded HHMMSS.f: sorts as text (score's prior-reference analysis needs the order)
                when = row[i_date].strip() + (_time(row[i_time]) if i_time is not None else "")
                self.study_dates[study] = min(self.study_dates.get(study, when), when)
        self.earlier = _earlier_studies(studies, self.study_dates)
        return studies

    def _splits(self) -> dict[str, str]:
        out: dict[str, str] = {}
        path = self.split
        table = csvio.Table(path, ("dicom_id", "split"))
        for line, row in table:
            if not out:
                i_dicom, i_split = table.col["dicom_id"], table.col["split"]
            dicom, split = row[i_dicom].strip(), row[i_split].strip().lower()
            if split not in SPLITS:
                raise InputError(f"{path} line {line}: split {row[i_split]!r} is not train, validate or test")
            if dicom in out:
                raise InputError(f"{path} line {line}: duplicate dicom_id {dicom}")
            out[dicom] = SPLITS[split]
        return out

    def _selected(self, stats: Stats) -> list[tuple[str, str, str, list[_Image]]]:
        """(study, subject, split, kept images) of the studies worth reading a report for."""
        studies = self._studies()
        splits = self._splits()
        no_view = NO_VIEW.format(views=views_label(self.cfg.views))
        out = []
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
            out.append((study, subject, split, in_split))
        return out

    def records(self, stats: Stats) -> Iterator[Record]:
        cfg = self.cfg
        selected = self._selected(stats)
        fix = "the labels file must have study_id and the 14 CheXpert columns"
        chexpert = _labels(self.chexpert, fix) if self.chexpert else None
        negbio = _labels(self.negbio, fix) if self.negbio else None
        make = ReportMaker(cfg, "mimic")
        stats.info["clean"] = make.name
        tried, found = len(selected), 0
        raws = self.reports.get_many([(subject, study) for study, subject, _, _ in selected])
        for (study, subject, split, images), raw in zip(selected, raws):
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
            sec = extract(text, stats.info["header_corrections"])
            report = make(sec)
            if not report:
                stats.drop(make.missing)
                continue
            labels = dict(zip(CHEXPERT14, chexpert[study])) if chexpert and study in chexpert else {}
            if chexpert is not None and not labels:
                stats.note("studies without CheXpert labels")
            extra: dict = {}
            if study in self.study_dates:  # every study of the patient in the metadata, kept or not, counts
                extra["study_date"] = self.study_dates[study]
                extra["earlier_studies"] = self.earlier.get(study, 0)
            if negbio and study in negbio:
                extra["negbio"] = dict(zip(CHEXPERT14, negbio[study]))
            if not (sec.findings or sec.impression):
                extra["section"] = "last_paragraph"
            source = {"dataset": "mimic", "file": f"files/p{subject[:2]}/p{subject}/s{study}.txt"}
            common = dict(patient_id=subject, split=split, report=report, findings=sec.findings,
                          impression=sec.impression, indication=sec.indication, comparison=sec.comparison,
                          labels=labels, source=source)
            refs = [ImageRef(im.path, im.view, im.dicom) for im in images]
            if cfg.per_image:
                for ref in refs:
                    yield Record(id=ref.image_id, images=[ref], extra=dict(extra, study_id=study), **common)
            else:
                yield Record(id=study, images=refs, extra=extra, **common)
        if tried and not found:
            raise InputError(f"{self.reports.location}: no report found for any of {tried} studies"
                             "; the reports are not part of MIMIC-CXR-JPG: pass --reports mimic-cxr-reports.zip "
                             "(or the folder holding files/pXX/…)")


def read(cfg, **kw):
    """The MIMIC-CXR-JPG tables (``--root``), or R2Gen's copy when ``--annotation`` is given."""
    if cfg.annotation:
        from cxrgen.data.mimic_r2gen import MimicAnnotationSource
        return MimicAnnotationSource(cfg)
    return MimicSource(cfg, **kw)
