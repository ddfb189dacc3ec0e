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
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from cxrgen.data.records import CHEXPERT14, Record
from cxrgen.data.source import Stats
from cxrgen.errors import InputError
from cxrgen.utils.io import naming_path
from cxrgen.utils.log import log
from cxrgen.utils.progress import progress
from cxrgen.workspace.hashing import raw_input

GENERATOR_VERSION = 1
MARKER = "synthetic.json"
GROUND_TRUTH = "ground_truth.jsonl"
PREVALENCE = {"cardiomegaly": 0.3, "effusion": 0.3, "pneumothorax": 0.22, "consolidation": 0.3,
              "nodule": 0.25, "devices": 0.3}
SIDES = ("right", "left")
LOBES = ("upper", "lower")
DEVICES = ("ett", "cvc", "ngt", "pacemaker")


# ======================================================================================
# findings and labels
# ======================================================================================
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


# ======================================================================================
# report text
# ======================================================================================
DEVICE_TEXT = {
    "ett": ["An endotracheal tube terminates {n} cm above the carina.",
            "Endotracheal tube tip is {n} cm above the carina."],
    "cvc": ["A right internal jugular central venous catheter terminates in the mid SVC.",
            "Right IJ central line tip projects over the SVC."],
    "ngt": ["An enteric tube courses below the diaphragm, tip in the stomach.",
            "Nasogastric tube tip is in the stomach."],
    "pacemaker": ["A left chest wall pacemaker is present with a lead in the right ventricle.",
                  "Left-sided pacemaker device with lead terminating in the right ventricle."],
}


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(len(options)))]


def report_sentences(f: Findings, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """(findings sentences, impression sentences)."""
    s: list[str] = []
    imp: list[str] = []
    for d in f.devices:
        s.append(_pick(rng, DEVICE_TEXT[d]).format(n=int(rng.integers(3, 6))))
    if f.devices:
        imp.append("Support devices in standard position." if len(f.devices) > 1 else
                   {"ett": "Endotracheal tube in standard position.", "cvc": "Central venous catheter in the SVC.",
                    "ngt": "Enteric tube in the stomach.", "pacemaker": "Pacemaker in place."}[f.devices[0]])
    if f.consolidation:
        side, lobe = f.consolidation
        s.append(_pick(rng, [f"There is airspace opacity in the {side} {lobe} lobe consistent with consolidation.",
                             f"Dense opacity in the {side} {lobe} lobe, compatible with consolidation."]))
        imp.append(f"{side.capitalize()} {lobe} lobe consolidation.")
    else:
        s.append(_pick(rng, ["There is no focal consolidation.", "No focal consolidation is seen."]))
    if f.nodules:
        sides = sorted({n[0] for n in f.nodules})
        where = " and ".join(f"{x} upper lung" for x in sides)
        if len(f.nodules) > 1:
            s.append(f"Two rounded nodules are seen in the {where}, measuring up to 2 cm.")
            imp.append("Pulmonary nodules; recommend chest CT.")
        else:
            s.append(f"A 2 cm rounded nodule is seen in the {where}.")
            imp.append("Pulmonary nodule; recommend chest CT.")
    elif f.mention_nodules:
        s.append("No pulmonary nodules are identified.")
    if f.uncertain == "atelectasis":
        s.append(_pick(rng, ["Possible mild atelectasis at the left base.",
                             "Minimal bibasilar opacity may reflect atelectasis."]))
    elif f.uncertain == "pneumonia":
        s.append("Early pneumonia cannot be excluded in the appropriate clinical setting.")
    if f.mention_edema:
        s.append("There is no pulmonary edema.")
    eff, ptx = f.effusion, f.pneumothorax
    if eff:
        size = f.effusion_size
        if eff == "bilateral":
            s.append(f"There are {size} bilateral pleural effusions.")
            imp.append(f"{size.capitalize()} bilateral pleural effusions.")
        else:
            s.append(_pick(rng, [f"There is a {size} {eff} pleural effusion.",
                                 f"A {size} {eff} pleural effusion is present with blunting of the costophrenic angle."]))
            imp.append(f"{size.capitalize()} {eff} pleural effusion.")
    if ptx:
        s.append(_pick(rng, [f"There is a large {ptx} pneumothorax.",
                             f"A large {ptx} pneumothorax is present with a visible pleural line."]))
        imp.append(f"Large {ptx} pneumothorax.")
    if not eff and not ptx:
        s.append(_pick(rng, ["No pleural effusion or pneumothorax.", "There is no pleural effusion or pneumothorax."]))
    elif not eff:
        s.append("No pleural effusion.")
    elif not ptx:
        s.append("No pneumothorax.")
    if f.cardiomegaly:
        s.append(_pick(rng, ["The heart is markedly enlarged.", "There is moderate to severe cardiomegaly."]))
        imp.append("Cardiomegaly.")
    else:
        s.append(_pick(rng, ["Heart size is normal.", "The cardiac silhouette is normal in size."]))
    if not imp:
        imp.append(_pick(rng, ["No acute cardiopulmonary process.", "No acute cardiopulmonary abnormality."]))
    return s, imp


_INDICATIONS = ["___-year-old {sex} with shortness of breath.  Evaluate for pneumonia.",
                "___ year old {sex} with cough and fever.", "History: ___{s} with chest pain",
                "___-year-old {sex} status post line placement.  Assess position.",
                "Evaluate for interval change.", "___{s} with hypoxia, evaluate for effusion or edema."]


def _wrap(sentences: list[str]) -> str:
    return "\n ".join(textwrap.wrap("  ".join(sentences), width=74))


# 1 study in 40 has only an IMPRESSION header (dropped with --sections findings), 1 in 40 has neither
# findings nor impression header (the last-paragraph fallback); study 0 is always standard
STYLES = {17: "impression-only", 33: "no-headers"}


def mimic_report(f: Findings, view: str, has_lateral: bool, rng: np.random.Generator,
                 sentences: tuple[list[str], list[str]], style: str = "standard") -> str:
    find, imp = sentences
    sex = _pick(rng, ["man", "woman"])
    exam = "CHEST (PA AND LAT)" if has_lateral and view == "PA" else ("CHEST (PORTABLE AP)" if view == "AP" else "CHEST (PA)")
    indication = _pick(rng, _INDICATIONS).format(sex=sex, s="M" if sex == "man" else "F")
    comparison = _pick(rng, ["None.", "___.", "Chest radiograph from ___.", "___ and ___."])
    head = "                                 FINAL REPORT\n"
    parts = [f" {_pick(rng, ['EXAMINATION', 'EXAM'])}:  {exam}",
             f" {_pick(rng, ['INDICATION', 'HISTORY', 'REASON FOR EXAM'])}:  {indication}",
             f" TECHNIQUE:  Chest {'PA and lateral' if has_lateral else view}",
             f" {_pick(rng, ['COMPARISON', 'COMPARISONS'])}:  {comparison}"]
    if style == "impression-only":
        parts.append(f" IMPRESSION: \n \n {_wrap(find + imp)}")
    elif style == "no-headers":
        parts = parts[:2] + [f" {_wrap(find)}"]
    else:
        parts.append(f" FINDINGS: \n \n {_wrap(find)}")
        parts.append(f" IMPRESSION: \n \n {_wrap(imp)}")
    return head + "\n \n".join(parts) + "\n"


# ======================================================================================
# images
# ======================================================================================
class Canvas:
    """Float image in [0, 1]; shapes are drawn on their bounding box only (fast)."""

    def __init__(self, size: int, value: float = 0.03):
        self.s = size
        self.img = np.full((size, size), value, np.float32)
        self.ax = np.arange(size, dtype=np.float32) / size

    def _box(self, cy, cx, ry, rx):
        s = self.s
        y0, y1 = max(int((cy - ry) * s), 0), min(int((cy + ry) * s) + 2, s)
        x0, x1 = max(int((cx - rx) * s), 0), min(int((cx + rx) * s) + 2, s)
        return slice(y0, y1), slice(x0, x1)

    def ellipse_mask(self, cy, cx, ry, rx) -> tuple:
        ys, xs = self._box(cy, cx, ry, rx)
        y = (self.ax[ys, None] - cy) / ry
        x = (self.ax[None, xs] - cx) / rx
        return ys, xs, (y * y + x * x) <= 1.0

    def ellipse(self, cy, cx, ry, rx, value, add=False) -> np.ndarray:
        ys, xs, m = self.ellipse_mask(cy, cx, ry, rx)
        view = self.img[ys, xs]
        if add:
            view[m] += value
        else:
            view[m] = value
        full = np.zeros_like(self.img, dtype=bool)
        full[ys, xs] = m
        return full

    def polyline(self, pts, width: float, value: float) -> None:
        s = self.s
        w = max(1, int(round(width * s / 2)))
        pts = np.asarray(pts, np.float32)
        for (y0, x0), (y1, x1) in zip(pts[:-1], pts[1:]):
            n = int(max(abs(y1 - y0), abs(x1 - x0)) * s) + 1
            for t in np.linspace(0.0, 1.0, n):
                y, x = int((y0 + (y1 - y0) * t) * s), int((x0 + (x1 - x0) * t) * s)
                self.img[max(y - w, 0):y + w + 1, max(x - w, 0):x + w + 1] = value


_TEXTURES: dict[tuple, np.ndarray] = {}


def _texture_bank(size: int, cells: int) -> np.ndarray:
    """8 smooth noise fields of one size, made once per process from a fixed seed (not the data seed),
    so drawing a study costs a lookup; studies pick one with their own RNG and flip it."""
    key = (size, cells)
    if key not in _TEXTURES:
        from PIL import Image
        g = np.random.default_rng([size, cells, 7])
        _TEXTURES[key] = np.stack([np.asarray(Image.fromarray(g.standard_normal((cells, cells)).astype(np.float32),
                                                              mode="F").resize((size, size), Image.BILINEAR))
                                   for _ in range(8)])
    return _TEXTURES[key]


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    t = _texture_bank(size, cells)[int(rng.integers(8))]
    return t[:: 1 if rng.random() < 0.5 else -1, :: 1 if rng.random() < 0.5 else -1]


def draw_frontal(f: Findings, rng: np.random.Generator, size: int, view: str) -> np.ndarray:
    c = Canvas(size)
    dy, dx = rng.uniform(-0.025, 0.025, 2)
    sc = float(rng.uniform(0.95, 1.04))
    body_v = float(rng.uniform(0.38, 0.46))
    c.ellipse(0.6 + dy, 0.5 + dx, 0.55 * sc, 0.45 * sc, body_v)
    texture = _smooth_noise(rng, size, 40) * 0.045 + _smooth_noise(rng, size, 12) * 0.03
    lungs = {}
    for side, lx in (("right", 0.31), ("left", 0.69)):
        cy, cx, ry, rx = 0.47 + dy, lx + dx + (0.5 - lx) * (1 - sc), 0.3 * sc, 0.145 * sc
        m = c.ellipse(cy, cx, ry, rx, 0.27)
        c.img[m] += texture[m]
        lungs[side] = (cy, cx, ry, rx, m)
    c.img[:, int((0.455 + dx) * size):int((0.545 + dx) * size)] = np.maximum(
        c.img[:, int((0.455 + dx) * size):int((0.545 + dx) * size)], body_v + 0.12)  # spine / mediastinum
    for side, sgn in (("right", -1), ("left", 1)):  # clavicles
        c.polyline([(0.16 + dy, 0.5 + dx + sgn * 0.05), (0.13 + dy, 0.5 + dx + sgn * 0.3)], 0.018, body_v + 0.2)
    if f.cardiomegaly:
        c.ellipse(0.62 + dy, 0.53 + dx, 0.18 * sc, 0.25 * sc, 0.66)
    else:
        c.ellipse(0.63 + dy, 0.56 + dx, 0.12 * sc, 0.12 * sc, 0.66)
    ax = c.ax
    if f.consolidation:
        side, lobe = f.consolidation
        cy, cx, ry, rx, m = lungs[side]
        ccy = cy + (-0.12 if lobe == "upper" else 0.13) * sc
        blob = np.zeros_like(c.img, dtype=bool)
        for _ in range(3):
            oy, ox = rng.uniform(-0.04, 0.04, 2)
            blob |= _mask(c, ccy + oy, cx + ox, 0.085 * sc, 0.075 * sc)
        blob &= m
        c.img[blob] = 0.6 + texture[blob] * 0.5
    for side, ny, nx in f.nodules:
        cy, cx, ry, rx, m = lungs[side]
        c.ellipse(ny + dy, cx + nx, 0.04, 0.04, 0.82)
    if f.effusion:
        sides = ("right", "left") if f.effusion == "bilateral" else (f.effusion,)
        depth = 0.17 if f.effusion_size == "moderate" else 0.25
        for side in sides:
            cy, cx, ry, rx, m = lungs[side]
            lateral = -1 if side == "right" else 1
            # meniscus: the fluid top is lowest medially and climbs towards the lateral chest wall
            lat = np.clip((ax[None, :] - cx) * lateral / rx, 0, 1)
            fluid = m & (ax[:, None] > cy + ry - depth * sc - 0.09 * lat ** 2)
            c.img[fluid] = 0.62
    if f.pneumothorax:
        side = f.pneumothorax
        cy, cx, ry, rx, m = lungs[side]
        lateral = -1 if side == "right" else 1
        edge_x = cx - lateral * 0.04 * sc
        bow = 0.05 * (1 - ((ax[:, None] - cy) / ry) ** 2)
        off = (ax[None, :] - edge_x) * lateral - bow
        air = m & (off > 0)
        c.img[air] = 0.0
        line = m & (np.abs(off) < 1.6 / size)
        c.img[line] = 0.55
        c.img[m & (off <= 0)] += 0.06
    for d in f.devices:
        if d == "ett":
            c.polyline([(0.0, 0.5 + dx), (0.3 + dy, 0.5 + dx)], 0.016, 0.97)
        elif d == "cvc":
            c.polyline([(0.12 + dy, 0.2 + dx), (0.25 + dy, 0.38 + dx), (0.42 + dy, 0.47 + dx)], 0.011, 0.97)
        elif d == "ngt":
            c.polyline([(0.0, 0.52 + dx), (0.8 + dy, 0.53 + dx), (0.88 + dy, 0.64 + dx)], 0.011, 0.97)
        elif d == "pacemaker":
            y0, x0 = int((0.2 + dy) * size), int((0.76 + dx) * size)
            c.img[y0:y0 + int(0.07 * size), x0:x0 + int(0.1 * size)] = 1.0
            c.polyline([(0.23 + dy, 0.78 + dx), (0.35 + dy, 0.62 + dx), (0.6 + dy, 0.55 + dx)], 0.009, 0.97)
    return _finish(c.img, rng, size)


def _mask(c: Canvas, cy, cx, ry, rx) -> np.ndarray:
    ys, xs, m = c.ellipse_mask(cy, cx, ry, rx)
    full = np.zeros_like(c.img, dtype=bool)
    full[ys, xs] = m
    return full


def draw_lateral(f: Findings, rng: np.random.Generator, size: int) -> np.ndarray:
    c = Canvas(size)
    dy, dx = rng.uniform(-0.025, 0.025, 2)
    body_v = float(rng.uniform(0.38, 0.46))
    c.ellipse(0.6 + dy, 0.5 + dx, 0.55, 0.38, body_v)
    texture = _smooth_noise(rng, size, 40) * 0.045
    m = c.ellipse(0.47 + dy, 0.52 + dx, 0.3, 0.25, 0.27)
    c.img[m] += texture[m]
    c.img[:, int((0.8 + dx) * size):int((0.88 + dx) * size)] = body_v + 0.15  # spine
    if f.cardiomegaly:
        c.ellipse(0.6 + dy, 0.4 + dx, 0.19, 0.2, 0.64)
    else:
        c.ellipse(0.62 + dy, 0.38 + dx, 0.12, 0.1, 0.64)
    if f.consolidation:
        blob = _mask(c, 0.42 + dy + (0.1 if f.consolidation[1] == "lower" else -0.08), 0.55 + dx, 0.09, 0.1) & m
        c.img[blob] = 0.58
    for _, ny, nx in f.nodules:
        c.ellipse(ny + dy, 0.58 + dx + nx, 0.03, 0.03, 0.8)
    if f.effusion:
        depth = 0.62 if f.effusion_size == "moderate" else 0.56
        fluid = m & (c.ax[:, None] > depth + dy - 0.1 * np.clip((c.ax[None, :] - 0.55) / 0.2, 0, 1))
        c.img[fluid] = 0.6
    if f.pneumothorax:
        air = m & (c.ax[None, :] < 0.36 + dx) & (c.ax[:, None] < 0.5 + dy)
        c.img[air] = 0.0
    if "ett" in f.devices:
        c.polyline([(0.0, 0.45 + dx), (0.3 + dy, 0.5 + dx)], 0.014, 0.97)
    if "pacemaker" in f.devices:
        c.img[int(0.2 * size):int(0.26 * size), int(0.2 * size):int(0.24 * size)] = 1.0
    return _finish(c.img, rng, size)


def _finish(img: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    from PIL import Image, ImageFilter
    img = img + _smooth_noise(rng, size, size // 2) * 0.012  # fine grain
    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    gamma = float(rng.uniform(0.85, 1.15))
    lut = (np.linspace(0, 1, 256) ** gamma * 255 + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(lut[u8]).filter(ImageFilter.BoxBlur(1)))


# ======================================================================================
# files
# ======================================================================================
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


# ======================================================================================
# the reader
# ======================================================================================
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
    if intact(root, MARKER, params):
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
    if dry_run and not (root / MARKER).is_file():
        print(f"dry run: would write {cfg.n} synthetic studies ({cfg.layout} layout, {cfg.image_size} px, "
              f"seed {cfg.seed}) to {root}, then prepare them as prepare/{name}")
        return None
    ensure_dataset(root, cfg)
    return SyntheticSource(cfg, root)
