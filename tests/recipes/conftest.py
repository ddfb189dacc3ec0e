"""Tiny synthetic inputs for the recipe tests: two report classes whose image features / pathology
scores / images differ, so a recipe that uses its image input can beat shuffled inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPORTS = ("the lungs are clear. no pleural effusion or pneumothorax.",
           "there is a small left pleural effusion with adjacent atelectasis.")
XRV_ORDER = ['Atelectasis', 'Consolidation', 'Infiltration', 'Pneumothorax', 'Edema', 'Emphysema', 'Fibrosis',
             'Effusion', 'Pneumonia', 'Pleural_Thickening', 'Cardiomegaly', 'Nodule', 'Mass', 'Hernia',
             'Lung Lesion', 'Fracture', 'Lung Opacity', 'Enlarged Cardiomediastinum']


def make_records(n: int = 16, *, views=("PA", "LATERAL"), split: str = "train"):
    from cxrgen.data.records import ImageRef, Record
    recs = []
    for i in range(n):
        cls = i % 2
        imgs = [ImageRef(path=f"p{i}/{v.lower()}.png", view=v, image_id=f"s{i}-{v.lower()}") for v in views]
        recs.append(Record(id=f"s{i}", patient_id=f"p{i}", split=split, images=imgs, report=REPORTS[cls],
                           extra={"cls": cls}))
    return recs


def write_store(path: Path, records, *, dim: int = 32, tokens: int = 4, scores: bool = False, seed: int = 0,
                score_labels=None):
    """features.h5 as embed writes it: class 0 → features around −1, class 1 → around +1; pathology
    scores low for class 0, raised for class 1 (Effusion highest)."""
    import h5py
    rng = np.random.default_rng(seed)
    ids, feats, sc = [], [], []
    for r in records:
        cls = r.extra["cls"]
        for im in r.images:
            ids.append(im.image_id)
            shape = (tokens, dim) if tokens else (dim,)
            feats.append((2.0 * cls - 1.0) + 0.3 * rng.standard_normal(shape))
            s = rng.uniform(0.55, 0.85, 18) if cls else rng.uniform(0.0, 0.2, 18)
            if cls:
                s[XRV_ORDER.index("Effusion")] = 0.9 + 0.05 * rng.random()
            sc.append(s)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("ids", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
        h5.create_dataset("features", data=np.asarray(feats, np.float16))
        if scores:
            h5.create_dataset("scores", data=np.asarray(sc, np.float32))
            h5.attrs["score_labels"] = json.dumps(score_labels or XRV_ORDER)
        h5.attrs["encoder"] = "test"
    from cxrgen.data.features import FeatureStore
    return FeatureStore(path)


def write_images(root: Path, records, size: int = 64):
    """Class 1 studies carry a bright blob in the lower left of every view."""
    from PIL import Image
    for r in records:
        for im in r.images:
            a = np.full((size, size), 40, np.uint8)
            if r.extra["cls"]:
                a[size // 2:, : size // 2] = 220
            p = root / im.path
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(a).save(p)


@pytest.fixture
def tiny_cfg():
    def make(mode: str, *overrides: str):
        from cxrgen.config.base import load_config
        from cxrgen.config.schema import TrainConfig
        return load_config(TrainConfig, overrides=[f"mode={mode}", "llm=tiny-llama", *overrides])
    return make


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models run faster on one thread, and far faster when the CPU is shared (no oversubscription).
    Seeded too, so recipe initialisation does not depend on which tests ran before."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(n)
