"""A small prepared + embedded workspace written through ArtifactBuild (no prepare/embed stage needed).

Each study has one finding out of ``FINDINGS``; its 512-d feature is the finding's fixed random
direction plus noise (L2-normalised), so the label is linearly decodable from the image feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxrgen.data.records import ImageRef, Record, write_records
from cxrgen.workspace.artifact import ArtifactBuild
from cxrgen.workspace.layout import Workspace

FINDINGS = {
    "effusion": "there is a small left pleural effusion.",
    "cardiomegaly": "the heart is enlarged consistent with cardiomegaly.",
    "pneumothorax": "a right apical pneumothorax is present.",
    "normal": "no acute cardiopulmonary process.",
}


@dataclass(frozen=True)
class _FixtureCfg:
    what: str
    seed: int


def make_workspace(root: Path, *, n_train: int = 24, n_val: int = 8, n_test: int = 8, dim: int = 512,
                   seed: int = 0, noise: float = 0.3, dataset: str = "synthetic",
                   encoder: str = "medclip-vit", findings: tuple[str, ...] | None = None) -> Workspace:
    ws = Workspace(Path(root)).init()
    rng = np.random.default_rng(seed)
    names = list(findings or FINDINGS)
    dirs = rng.standard_normal((len(names), dim)).astype(np.float32)
    recs, ids, feats = [], [], []
    k = 0
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        for _ in range(n):
            c = k % len(names)
            sid = f"s{k:04d}"
            recs.append(Record(id=sid, patient_id=f"p{k:04d}", split=split,
                               images=[ImageRef(path=f"img/{sid}.png", view="PA", image_id=f"{sid}-0")],
                               report=FINDINGS[names[c]], labels={"finding": names[c]}))
            v = dirs[c] + noise * rng.standard_normal(dim).astype(np.float32)
            feats.append(v / np.linalg.norm(v))
            ids.append(f"{sid}-0")
            k += 1
    b = ArtifactBuild(ws, "prepare", (dataset,), _FixtureCfg("prepare", seed), [])
    with b:
        write_records(b.work_dir / "records.jsonl", recs)
        b.commit(["records.jsonl"], counts={"records": len(recs)})
    entry = {"kind": "artifact", "stage": "prepare", "key": [dataset],
             "fingerprint": b.fingerprint}
    e = ArtifactBuild(ws, "embed", (dataset, encoder), _FixtureCfg("embed", seed), [entry])
    with e:
        write_features(e.work_dir / "features.h5", ids, np.stack(feats), encoder)
        e.commit(["features.h5"], counts={"images": len(ids)})
    return ws


def write_features(path: Path, ids: list[str], feats: np.ndarray, encoder: str) -> None:
    import h5py
    with h5py.File(path, "w") as h:
        h.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
        h.create_dataset("features", data=feats.astype(np.float16), chunks=(min(64, len(ids)), feats.shape[1]))
        h.attrs["encoder"] = encoder
        h.attrs["dtype"] = "float16"
        h.attrs["dim"] = feats.shape[1]
