"""Fixtures for the embed tests: synthetic DICOMs, drawn X-ray-like images, a prepared workspace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def write_dicom(path: Path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int = 12,
                signed: bool = False, frames: int = 1, **tags) -> Path:
    """A minimal uncompressed Secondary Capture DICOM with the given stored values and tags."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    arr = np.asarray(pixels)
    ds.Rows, ds.Columns = arr.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.PixelData = arr.astype(np.int16 if signed else np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def draw_xray(kind: int, size: int = 96, seed: int = 0) -> np.ndarray:
    """A crude chest-like uint8 image whose class (0..3) is a large visible finding at a known place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = 0.25 + 0.05 * rng.standard_normal((size, size))
    lungs = ((xx - 0.3) ** 2 / 0.03 + (yy - 0.5) ** 2 / 0.12 < 1) | ((xx - 0.7) ** 2 / 0.03 + (yy - 0.5) ** 2 / 0.12 < 1)
    img[lungs] -= 0.15
    heart_r = 0.22 if kind == 1 else 0.12                      # 1: big heart
    img[(xx - 0.55) ** 2 + (yy - 0.62) ** 2 < heart_r ** 2] = 0.7
    if kind == 2:                                               # 2: right effusion (bottom left of image)
        img[(yy > 0.68) & (xx < 0.45)] = 0.75
    if kind == 3:                                               # 3: nodule top right
        img[(xx - 0.72) ** 2 + (yy - 0.3) ** 2 < 0.07 ** 2] = 0.9
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def prepared(tmp_path):
    """A workspace with prepare/<name> records for a few PNG/JPEG/DICOM images (per-image ids)."""
    def make(n: int = 6, name: str = "fixture", kinds: list[int] | None = None, size: int = 96,
             bad: dict[int, str] | None = None) -> tuple[Path, list[str]]:
        from PIL import Image

        from cxrgen.config.schema import PrepareConfig
        from cxrgen.data.records import ImageRef, Record, write_records
        from cxrgen.workspace.artifact import ArtifactBuild
        from cxrgen.workspace.layout import Workspace

        ws = Workspace(tmp_path / "ws")
        root = tmp_path / "images"
        root.mkdir(exist_ok=True)
        records, ids = [], []
        for i in range(n):
            kind = kinds[i] if kinds else i % 4
            arr = draw_xray(kind, size=size, seed=i)
            images = []
            for v, view in enumerate(("PA", "LATERAL") if i % 3 == 0 else ("PA",)):
                rel = f"p{i:03d}/img{v}.{['png', 'jpg', 'dcm'][(i + v) % 3]}"
                p = root / rel
                p.parent.mkdir(parents=True, exist_ok=True)
                if rel.endswith(".dcm"):
                    write_dicom(p, arr.astype(np.uint16) * 16, bits_stored=12)
                else:
                    Image.fromarray(arr).save(p)
                if bad and len(ids) in bad:
                    what = bad[len(ids)]
                    if what == "missing":
                        p.unlink()
                    elif what == "corrupt":
                        p.write_bytes(p.read_bytes()[: 200])
                images.append(ImageRef(path=rel, view=view, image_id=f"im{i:03d}-{v}"))
                ids.append(f"im{i:03d}-{v}")
            records.append(Record(id=f"s{i:03d}", patient_id=f"p{i:03d}", split=("train", "val", "test")[i % 3],
                                  images=images, report=f"finding kind {kind}."))
        cfg = PrepareConfig(dataset="synthetic", name=name, root=str(root))
        build = ArtifactBuild(ws, "prepare", (name,), cfg, inputs=[], force=True)
        with build:
            write_records(build.work_dir / "records.jsonl", records)
            build.commit(["records.jsonl"], counts={"records": n}, extra={"root": str(root)})
        return ws.root, ids
    return make


def read_h5(path: Path) -> dict:
    import h5py
    with h5py.File(path, "r") as f:
        out = {k: f[k][:] for k in f}
        out["attrs"] = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    out["ids"] = [i.decode() if isinstance(i, bytes) else str(i) for i in out["ids"]]
    return out


def manifest(ws: Path, *key: str) -> dict:
    return json.loads((ws.joinpath("embed", *key) / "manifest.json").read_text())
