"""R2Gen's ``annotation.json`` (the ``iu_xray/`` and ``mimic_cxr/`` copies distributed by
github.com/zhjohnchan/R2Gen, which R2GenGPT, PromptMRG and most follow-up papers train on).

Format: an object with ``train``, ``val`` and ``test`` lists. IU X-ray entries are studies
``{id, report, image_path: ["<id>/0.png", "<id>/1.png"], split}``; MIMIC-CXR entries are images
``{id (dicom_id), study_id, subject_id, report, image_path: ["pXX/pSUBJECT/sSTUDY/DICOM.jpg"], split}``.
``image_path`` is relative to the ``images/`` folder beside the annotation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cxrgen.errors import InputError
from cxrgen.utils.io import safe_join

ANN_FIX = ("expected R2Gen's annotation.json: an object with 'train', 'val' and 'test' lists of "
           "{id, report, image_path, split}")


@dataclass
class AnnEntry:
    id: str
    split: str
    report: str
    image_path: list[str]
    fields: dict = field(default_factory=dict)  # the other keys asked for (MIMIC: study_id, subject_id)


def read_annotation(path: Path, need: tuple[str, ...] = ()) -> list[AnnEntry]:
    """R2Gen's ``annotation.json`` → entries, checked: the format, one split per id, and that every
    ``image_path`` stays inside the images folder; ``need`` names further keys every entry must have
    (their values, as text, go to ``AnnEntry.fields``). Raises :class:`InputError` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: annotation file not found") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e}); {ANN_FIX}") from None
    if not isinstance(data, dict) or not any(k in data for k in ("train", "val", "test")) or \
            not all(isinstance(data.get(k, []), list) for k in ("train", "val", "test")):
        raise InputError(f"{path}: not R2Gen's format; {ANN_FIX}")
    out: list[AnnEntry] = []
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for k, item in enumerate(data.get(split, [])):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise InputError(f"{path}: {split}[{k}] has no 'id'; {ANN_FIX}")
            id_ = item["id"]
            if id_ in seen:
                raise InputError(f"{path}: id {id_!r} is in both {seen[id_]} and {split}; keep each id in one split")
            seen[id_] = split
            if item.get("split", split) != split:
                raise InputError(f"{path}: {split}[{k}] ({id_!r}) says split {item['split']!r}; keep each id in one split")
            paths = item.get("image_path", [])
            paths = [paths] if isinstance(paths, str) else paths
            if not isinstance(paths, list) or not all(isinstance(x, str) for x in paths):
                raise InputError(f"{path}: {split}[{k}] ({id_!r}) image_path is not a list of paths; {ANN_FIX}")
            for x in paths:
                try:
                    safe_join(path.parent / "images", x, what="image_path")
                except InputError as e:
                    raise InputError(f"{path}: {split}[{k}] ({id_!r}): {e}") from None
            report = item.get("report", "")
            if not isinstance(report, str):
                raise InputError(f"{path}: {split}[{k}] ({id_!r}) report is not text; {ANN_FIX}")
            missing = [key for key in need if key not in item]
            if missing and not out and "study_id" in need:  # the first entry: probably the other copy
                raise InputError(f"{path}: {split}[{k}] ({id_!r}) has no 'study_id': this looks like R2Gen's iu_xray "
                                 f"annotation; run `cxrgen prepare iu --annotation {path}`")
            if missing:
                raise InputError(f"{path}: {split}[{k}] ({id_!r}) has no {missing[0]!r}; {ANN_FIX}")
            if not need and not out and "study_id" in item and "subject_id" in item:
                raise InputError(f"{path}: entries carry study_id and subject_id: this is R2Gen's mimic_cxr "
                                 f"annotation; run `cxrgen prepare mimic --annotation {path}`")
            out.append(AnnEntry(id_, split, report, list(paths), {key: str(item[key]) for key in need}))
    if not out:
        raise InputError(f"{path}: no entries in 'train', 'val' or 'test'; {ANN_FIX}")
    return out
