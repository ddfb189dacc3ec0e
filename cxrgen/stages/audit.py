"""audit: leakage between the splits of a prepared data set (read-only; writes nothing).

Three checks over ``prepare/<dataset>/records.jsonl``:

* **patients**: a patient whose records are in more than one split (the model sees the same person at
  training and test time);
* **images**: the same image file content (sha256 of the bytes) in more than one split, whatever its
  name or path (copies, re-exports under another id);
* **reports**: the same report text (``report``, whitespace collapsed, case-folded) in more than one
  split. Short normal reports repeat in every real data set ("no acute cardiopulmonary process"), so
  these are reported with the share of test records they cover but are leaks for ``--strict`` only with
  ``--strict-reports``.

Returns a dict (``run``); the CLI renders it as a table or JSON and sets the exit code.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Optional

from cxrgen.workspace.layout import Workspace

log = logging.getLogger("cxrgen")
EXAMPLES = 5
HASH_THREADS = 8


def _sha256(path: Path) -> Optional[str]:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def _cross(groups: dict[str, dict[str, list[str]]]) -> dict:
    """groups: key → split → record ids. Keys present in ≥ 2 splits, with counts per split pair."""
    shared = {k: v for k, v in groups.items() if len(v) > 1}
    pairs: dict[str, int] = defaultdict(int)
    for v in shared.values():
        splits = sorted(v)
        for i, a in enumerate(splits):
            for b in splits[i + 1:]:
                pairs[f"{a}/{b}"] += 1
    records = sorted({rid for v in shared.values() for ids in v.values() for rid in ids})
    return {"count": len(shared), "records": len(records), "pairs": dict(sorted(pairs.items())),
            "examples": [{"key": k, "splits": {s: ids[:3] for s, ids in sorted(v.items())}}
                         for k, v in sorted(shared.items())[:EXAMPLES]]}


def check_patients(rows: Iterable[dict]) -> dict:
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[str(r["patient_id"])][r["split"]].append(r["id"])
    return _cross(groups)


def check_reports(rows: Iterable[dict]) -> dict:
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    test_total = 0
    for r in rows:
        groups[" ".join(str(r.get("report", "")).split()).casefold()][r["split"]].append(r["id"])
        test_total += r["split"] == "test"
    groups.pop("", None)
    out = _cross(groups)
    train_texts = {k for k, v in groups.items() if "train" in v}
    in_train = sum(len(v.get("test", [])) for k, v in groups.items() if k in train_texts)
    out["test_records_with_a_training_report"] = in_train
    out["test_share"] = in_train / test_total if test_total else None
    for ex in out["examples"]:
        ex["key"] = hashlib.sha256(ex["key"].encode()).hexdigest()[:12]  # report text is not printed
    return out


def check_images(rows: list[dict], root: Optional[Path]) -> dict:
    from cxrgen.utils.io import safe_join
    if root is None:
        return {"skipped": "no image root recorded in the prepare manifest"}
    items = [(r["split"], r["id"], safe_join(root, im["path"], what="image")) for r in rows for im in r.get("images", [])]
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        digests = list(pool.map(_sha256, [p for _, _, p in items]))
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for (split, rid, _), d in zip(items, digests):
        if d is not None:
            groups[d][split].append(rid)
    out = _cross(groups)
    out["hashed"] = sum(d is not None for d in digests)
    out["unreadable"] = [str(p) for (_, _, p), d in zip(items, digests) if d is None][:EXAMPLES]
    out["unreadable_count"] = sum(d is None for d in digests)
    return out


def run(ws: Workspace, dataset: str, *, images: bool = True, strict_reports: bool = False) -> dict:
    """All checks; ``leaks`` is the number of findings that count for ``--strict``."""
    from cxrgen.stages.embed import image_root
    from cxrgen.utils.io import read_jsonl
    from cxrgen.workspace.artifact import upstream
    _, pm = upstream(ws, "prepare", dataset)
    path = ws.records_path(dataset)
    rows = list(read_jsonl(path, required=("id", "patient_id", "split")))
    splits: dict[str, int] = defaultdict(int)
    for r in rows:
        splits[r["split"]] += 1
    try:
        root: Optional[Path] = image_root(pm, path)
    except Exception:  # noqa: BLE001 - a reports-only data set: the image check says it was skipped
        root = None
    out = {"dataset": dataset, "records": len(rows), "splits": dict(sorted(splits.items())),
           "patients": check_patients(rows), "reports": check_reports(rows),
           "images": check_images(rows, root) if images else {"skipped": "--no-images"}}
    out["leaks"] = out["patients"]["count"] + out["images"].get("count", 0) + \
        (out["reports"]["count"] if strict_reports else 0)
    return out
