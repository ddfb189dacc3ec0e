"""The record: one study (or one image with ``--per-image``) as every stage after prepare sees it.

records.jsonl holds one JSON object per line with the fields of :class:`Record`. Section texts are
kept as written (whitespace collapsed, never cleaned); ``report`` is the training target.
Image paths are relative to the data set root recorded in the prepare manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from cxrgen.errors import InputError
from cxrgen.utils.io import read_jsonl, write_jsonl

SPLITS = ("train", "val", "test")
CHEXPERT14 = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity",
              "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion",
              "Pleural Other", "Fracture", "Support Devices")
FRONTAL = ("AP", "PA")


@dataclass
class ImageRef:
    path: str
    view: str
    image_id: str


@dataclass
class Record:
    id: str
    patient_id: str
    split: str
    images: list[ImageRef]
    report: str
    findings: str = ""
    impression: str = ""
    indication: str = ""
    comparison: str = ""
    labels: dict[str, float | None] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        # hand-written instead of dataclasses.asdict (deep-copies; ~10x slower on 243k MIMIC records)
        return {"id": self.id, "patient_id": self.patient_id, "split": self.split,
                "images": [{"path": i.path, "view": i.view, "image_id": i.image_id} for i in self.images],
                "report": self.report, "findings": self.findings, "impression": self.impression,
                "indication": self.indication, "comparison": self.comparison, "labels": dict(self.labels),
                "source": dict(self.source), "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        d = dict(d)
        d["images"] = [ImageRef(**i) for i in d.get("images", [])]
        return cls(**d)

    def frontal(self) -> list[ImageRef]:
        return [i for i in self.images if i.view.upper() in FRONTAL]


REQUIRED = ("id", "patient_id", "split", "images", "report")


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    return write_jsonl(path, (r.to_dict() for r in records))


def read_records(path: str | Path, split: str | None = None) -> Iterator[Record]:
    for d in read_jsonl(path, required=REQUIRED):
        if split is None or d["split"] == split:
            try:
                yield Record.from_dict(d)
            except TypeError as e:
                raise InputError(f"{path}: record {d.get('id')!r} does not match the record schema ({e})") from None


def load_records(path: str | Path, split: str | None = None) -> list[Record]:
    return list(read_records(path, split))
