"""Reading chest X-rays: one function for every encoder, PNG/JPEG (8/16 bit) and DICOM.

``read_xray(path)`` returns a float32 H×W array in [0, 1] where 0 is black (air) and 1 is white
(bone), whatever the source:

* PNG/JPEG/TIFF through Pillow: 8-bit images are divided by 255, 16-bit ones by 65535; colour
  images are converted to grey with Pillow's ITU-R 601 luma.
* DICOM through pydicom (compressed transfer syntaxes — JPEG baseline/extended/lossless, JPEG-LS,
  JPEG 2000, RLE — are decoded by pylibjpeg/pillow plugins): the Modality LUT (or rescale
  slope/intercept) is applied, then the VOI transform — the VOI LUT sequence if present, else the
  first window centre/width with its VOI LUT Function (LINEAR, LINEAR_EXACT, SIGMOID, DICOM PS3.3
  C.11.2.1.2) mapped straight to [0, 1]. Without a VOI transform the value range implied by
  BitsStored and PixelRepresentation (after the rescale) is mapped to [0, 1]. MONOCHROME1 images
  are inverted; multi-frame images give their first frame with a warning.

Any unreadable, truncated or non-image file raises one :class:`InputError` line naming the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from cxrgen.errors import InputError

log = logging.getLogger("cxrgen")

DICOM_SUFFIXES = (".dcm", ".dicom", ".dic")


def is_dicom(path: str | os.PathLike) -> bool:
    """By suffix, else by the 'DICM' magic at byte 128."""
    p = Path(path)
    if p.suffix.lower() in DICOM_SUFFIXES:
        return True
    try:
        with open(p, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def read_xray(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as float32 H×W in [0, 1], 0 = black. Raises InputError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: image file not found; check the data set root given to `cxrgen prepare`")
    try:
        arr = _read_dicom(p) if is_dicom(p) else _read_pil(p)
    except InputError:
        raise
    except Exception as e:  # decoder errors come in many types; report one line
        raise InputError(f"{p}: unreadable image ({_one_line(e)})") from None
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError(f"{p}: not a 2-D image (shape {arr.shape})")
    if not np.isfinite(arr).all():
        raise InputError(f"{p}: image contains NaN or infinite values")
    return np.ascontiguousarray(np.clip(arr, 0.0, 1.0), dtype=np.float32)


# The largest CXRs (MIMIC's 4,280 × 3,520) are ~15 MP; far larger files are errors or decompression bombs.
MAX_PIXELS = 100_000_000


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return " ".join(lines) if lines else type(e).__name__


# --- Pillow ------------------------------------------------------------------------------------
def _read_pil(p: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(p) as im:
            if im.width * im.height > MAX_PIXELS:  # checked before decoding: no memory blow-up
                raise InputError(f"{p}: image is {im.width}×{im.height} ({im.width * im.height / 1e6:.0f} MP), "
                                 f"over the {MAX_PIXELS / 1e6:.0f} MP limit for one X-ray; downscale it first")
            im.load()  # decode now: a truncated file fails here, not later
            if getattr(im, "n_frames", 1) > 1:
                log.warning("%s: %d frames, using the first", p, im.n_frames)
            return _pil_to_array(im)
    except UnidentifiedImageError:
        raise InputError(f"{p}: not an image Pillow or pydicom can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"{p}: unreadable image ({_one_line(e)})") from None


def _pil_to_array(im) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.float32) / 65535.0
    if mode == "I":  # 32-bit container; 16-bit PNGs arrive here in some Pillow versions
        a = np.asarray(im, dtype=np.float64)
        return (a / (65535.0 if a.max(initial=0) <= 65535 else a.max())).astype(np.float32)
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if mode != "L":
        if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
            im = im.convert("RGBA").convert("RGB")
        im = im.convert("L")
    return np.asarray(im, dtype=np.float32) / 255.0


# --- DICOM -------------------------------------------------------------------------------------
def _read_dicom(p: Path) -> np.ndarray:
    import pydicom
    from pydicom.errors import InvalidDicomError
    try:
        ds = pydicom.dcmread(p)
    except InvalidDicomError:
        raise InputError(f"{p}: not a DICOM file (no DICM preamble); convert it or fix the path") from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise InputError(f"{p}: DICOM file without pixel data (truncated, or not an image: "
                         f"SOP class {ds.get('SOPClassUID', '?')})")
    try:
        pixels = ds.pixel_array
    except Exception as e:
        raise InputError(f"{p}: cannot decode DICOM pixel data ({_one_line(e)}); "
                         f"transfer syntax {getattr(ds.file_meta, 'TransferSyntaxUID', '?')}") from None
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames > 1:
        log.warning("%s: %d frames, using the first", p, frames)
        pixels = pixels[0]
    if samples > 1:  # colour secondary capture: pydicom gives RGB; use the ITU-R 601 luma like Pillow
        rgb = pixels.astype(np.float64)
        grey = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
        bits = int(ds.get("BitsStored", 8))
        return (grey / (2 ** bits - 1)).astype(np.float32)
    return dicom_to_unit(pixels, ds)


def dicom_to_unit(pixels: np.ndarray, ds) -> np.ndarray:
    """Stored values → [0, 1] display values (Modality LUT, VOI, MONOCHROME1 inversion)."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    raw = pixels.astype(np.int64) if pixels.dtype.kind in "iu" else pixels
    if pixels.dtype.kind in "iu":  # honour BitsStored: drop bits above it (overlays, garbage)
        mask = (1 << bits) - 1
        raw = raw & mask
        if signed:
            raw = np.where(raw >= (1 << (bits - 1)), raw - (1 << bits), raw)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    values = np.asarray(apply_modality_lut(raw, ds), dtype=np.float64)

    if "ModalityLUTSequence" in ds:
        desc = ds.ModalityLUTSequence[0].LUTDescriptor
        lo, hi = 0, 2 ** int(desc[2]) - 1
    else:
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        lo, hi = sorted((lo * slope + intercept, hi * slope + intercept))

    if "VOILUTSequence" in ds:
        out = np.asarray(apply_voi_lut(values, ds, index=0, prefer_lut=True), dtype=np.float64)
        lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
        lmin, lmax = float(lut.min()), float(lut.max())
        unit = (out - lmin) / (lmax - lmin) if lmax > lmin else np.zeros_like(out)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        center = _first(ds.WindowCenter)
        width = _first(ds.WindowWidth)
        unit = window(values, center, width, str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR"))
    else:
        unit = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)

    unit = np.clip(unit, 0.0, 1.0)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip() == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _first(v) -> float:
    try:
        return float(v[0])
    except TypeError:
        return float(v)


def window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 windowing, output scaled to [0, 1]."""
    function = function.strip().upper()
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        if width <= 0:
            raise InputError(f"window width {width} must be > 0 for LINEAR_EXACT")
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    if width < 1:
        raise InputError(f"window width {width} must be >= 1 for LINEAR")
    if width == 1:
        return (values > center - 0.5).astype(np.float64)
    return np.clip((values - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0)
