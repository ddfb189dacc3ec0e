"""Writing a synthetic data set to disk: images (JPEG/PNG, and DICOM in three photometric variants),
reports and the MIMIC-CXR-JPG or IU X-ray (Kaggle CSV) metadata files, in parallel and byte-reproducibly.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxrgen.data.records import CHEXPERT14
from cxrgen.utils.progress import progress

from cxrgen.data.synthetic.drawing import draw_frontal, draw_lateral
from cxrgen.data.synthetic.findings import GROUND_TRUTH, Findings, draw_findings, labels_of
from cxrgen.data.synthetic.reports import STYLES, mimic_report, report_sentences


def _uid(*parts) -> str:
    h = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return f"2.25.{int.from_bytes(h[:16], 'big')}"


def write_dicom(path: Path, u8: np.ndarray, variant: int, *, uid_seed: tuple, patient: str, view: str) -> None:
    """variant 0: 8-bit MONOCHROME2; 1: 12-bit-in-16 MONOCHROME1 (inverted); 2: 12-bit-in-16 MONOCHROME2."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian
    sop_class = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage
    inst = _uid(*uid_seed, "sop")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = inst
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "2.25.1"
    meta.ImplementationVersionName = "CXRGEN_SYNTH"
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, inst
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(*uid_seed[:-1], "study"), _uid(*uid_seed, "series")
    ds.Modality, ds.PatientID, ds.ViewPosition, ds.BodyPartExamined = "CR", patient, view, "CHEST"
    ds.Rows, ds.Columns = u8.shape
    ds.SamplesPerPixel = 1
    ds.PixelRepresentation = 0
    if variant == 0:
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = u8.tobytes()
    else:
        v12 = (u8.astype(np.uint32) * 4095 + 127) // 255
        if variant == 1:
            ds.PhotometricInterpretation = "MONOCHROME1"
            v12 = 4095 - v12
        else:
            ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelData = v12.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def _write_image(path: Path, u8: np.ndarray, fmt: str) -> None:
    from PIL import Image
    im = Image.fromarray(u8)
    if fmt == "jpg":
        im.save(path, format="JPEG", quality=92)
    else:
        im.save(path, format="PNG", compress_level=1)


def _gz_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode()
    if path.suffix == ".gz":
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(data)
    else:
        path.write_bytes(data)


@dataclass
class _Study:
    index: int
    subject: str
    study: str
    split: str
    findings: Findings
    images: list  # [(image_id, view, rel path)]
    report: str
    sentences: tuple


def _make_study(job: tuple) -> _Study:
    """Draw and write the images of study ``i`` (runs in a worker process; depends only on its args)."""
    root, i, seed, layout, size, subject, split = job
    rng = np.random.default_rng([seed, i])
    study = str(50_000_000 + i)
    f = draw_findings(rng)
    view = "AP" if rng.random() < 0.4 else "PA"
    has_lat = bool(rng.random() < 0.5)
    images = []
    for j, v in enumerate([view] + (["LATERAL"] if has_lat else [])):
        u8 = draw_frontal(f, rng, size, v) if v != "LATERAL" else draw_lateral(f, rng, size)
        h = hashlib.sha256(f"{seed}/{i}/{j}".encode()).hexdigest()
        # DICOM: the frontal of every 12th study (from study 1), the lateral of every 12th (from 7)
        is_dicom = i % 12 == (1 if j == 0 else 7)
        if layout == "mimic":  # the first hex digit is the image's index, so the frontal sorts first
            image_id = "-".join([f"{j:x}{h[1:8]}", h[8:16], h[16:24], h[24:32], h[32:40]])
            rel = f"files/p{subject[:2]}/p{subject}/s{study}/{image_id}.{'dcm' if is_dicom else 'jpg'}"
        else:  # Kaggle's images_normalized naming
            image_id = f"{i + 1}_IM-{i % 9000 + 1000:04d}-{j + 1}001"
            rel = f"images/{image_id}.{'dcm' if is_dicom else 'dcm.png'}"
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if is_dicom:
            write_dicom(out, u8, (i // 12) % 3, uid_seed=(seed, i, j), patient=subject, view=v)
        else:
            _write_image(out, u8, "jpg" if layout == "mimic" else "png")
        images.append((image_id, v, rel))
    sentences = report_sentences(f, rng)
    report = mimic_report(f, view, has_lat, rng, sentences, style=STYLES.get(i % 40, "standard"))
    return _Study(i, subject, study, split, f, images, report, sentences)


def _pool_size(n: int, workers: int) -> int:
    if n < 200:
        return 1
    return max(1, min(workers or os.cpu_count() or 1, 4))


def generate(root: Path, n: int, seed: int, layout: str, size: int, workers: int = 0) -> None:
    """Write the data set into ``root`` (new or empty). The bytes depend only on the arguments
    (not on ``workers``): every study draws from its own generator seeded with ``(seed, i)``."""
    g = np.random.default_rng([seed, 1_000_003])
    n_patients = max(3, int(n / 1.3))
    patient_of = np.sort(np.concatenate([np.arange(n_patients), g.integers(0, n_patients, n - n_patients)]))
    order = g.permutation(n_patients)
    n_test, n_val = max(1, round(0.1 * n_patients)), max(1, round(0.1 * n_patients))
    split_of = {int(p): ("test" if k < n_test else "val" if k < n_test + n_val else "train") for k, p in enumerate(order)}
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(root, i, seed, layout, size, str(10_000_000 + int(patient_of[i])), split_of[int(patient_of[i])])
            for i in range(n)]
    procs = _pool_size(n, workers)
    studies: list[_Study] = []
    with progress("synthetic images", total=n, unit="study") as bar:
        if procs == 1:
            results = map(_make_study, jobs)
            for st in results:
                studies.append(st)
                bar.advance()
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            # fork: workers need no re-import of __main__ (works from notebooks and `python -c`); they
            # only run numpy/PIL/pydicom on their own arguments and never print or log
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context(method)) as ex:
                for st in ex.map(_make_study, jobs, chunksize=32):
                    studies.append(st)
                    bar.advance()
    (_write_mimic if layout == "mimic" else _write_iu)(root, studies)
    with open(root / GROUND_TRUTH, "w", encoding="utf-8") as fh:
        for st in studies:
            fh.write(json.dumps({"study_id": st.study if layout == "mimic" else f"CXR{st.index + 1}",
                                 "subject_id": st.subject, "split": st.split, "labels": labels_of(st.findings),
                                 "findings": dataclasses.asdict(st.findings),
                                 "images": [{"image_id": a, "view": b, "path": c} for a, b, c in st.images]}) + "\n")


def _write_mimic(root: Path, studies: list[_Study]) -> None:
    meta, split, chex = [], [], []
    for st in studies:
        for image_id, view, rel in st.images:
            meta.append([image_id, st.subject, st.study, "CHEST (PA AND LAT)", view, 320, 320, rel])
            split.append([image_id, st.study, st.subject, {"val": "validate"}.get(st.split, st.split)])
        lab = labels_of(st.findings)
        chex.append([st.subject, st.study] + ["" if lab[c] is None else f"{float(lab[c]):.1f}" for c in CHEXPERT14])
        rp = root / f"files/p{st.subject[:2]}/p{st.subject}/s{st.study}.txt"
        rp.write_text(st.report, encoding="utf-8")
    _gz_csv(root / "mimic-cxr-2.0.0-metadata.csv.gz", ["dicom_id", "subject_id", "study_id",
            "PerformedProcedureStepDescription", "ViewPosition", "Rows", "Columns", "path"], meta)
    _gz_csv(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id", "subject_id", "split"], split)
    _gz_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", ["subject_id", "study_id"] + list(CHEXPERT14), chex)


def _write_iu(root: Path, studies: list[_Study]) -> None:
    reports, projections = [], []
    for st in studies:
        uid = str(st.index + 1)
        find, imp = st.sentences
        lab = labels_of(st.findings)
        problems = [c for c in CHEXPERT14 if lab[c] == 1 and c != "No Finding"] or ["normal"]
        reports.append([uid, ";".join(problems), ";".join(problems), "Xray Chest PA and Lateral",
                        "XXXX-year-old with dyspnea.", "None.", " ".join(find), " ".join(imp)])
        for image_id, view, rel in st.images:
            projections.append([uid, Path(rel).name, "Lateral" if view == "LATERAL" else "Frontal"])
    _gz_csv(root / "indiana_reports.csv", ["uid", "MeSH", "Problems", "image", "indication", "comparison",
                                           "findings", "impression"], reports)
    _gz_csv(root / "indiana_projections.csv", ["uid", "filename", "projection"], projections)
