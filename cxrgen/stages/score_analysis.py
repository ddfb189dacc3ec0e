"""The error-analysis hook of ``score``: hallucinated priors and copying, against the prepared records.

Kept apart from :mod:`cxrgen.stages.score` (which computes the NLG/CE metrics) so each can change alone.
The numbers are defined in :mod:`cxrgen.metrics.errors`; they go into ``scores.json`` under
``error_analysis`` and, per report, into ``per_sample.jsonl`` (``mentions_prior``, ``has_prior``,
``copied``, ``nearest_train_bleu4``, ``nearest_train_id``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger("cxrgen.score")
VERSION = "cxrgen-error-analysis-1"


def add_error_analysis(doc: dict, scored: Any, records: Optional[Path]) -> None:
    """Compute the analysis for ``scored.preds`` against ``records`` (records.jsonl) into doc/per_sample."""
    if records is None:
        doc["error_analysis"] = {"skipped": "no prepared records (give --records records.jsonl)"}
        return
    from cxrgen.metrics.errors import analyse
    from cxrgen.utils.io import read_jsonl
    t = time.perf_counter()
    p = scored.preds
    rows = list(read_jsonl(records, required=("id",)))
    lacking = next((k for r in rows for k in ("patient_id", "split", "report") if k not in r), None)
    if lacking:  # a labels-only file is enough for CE (score --records) but not for this analysis
        doc["error_analysis"] = {"skipped": f"{records} has no {lacking!r} field (needs prepared records.jsonl)"}
        return
    summary, per = analyse(p.ids, p.hyps, p.refs, rows)
    summary["records"] = str(Path(records).resolve())
    doc["error_analysis"] = summary
    for row, extra in zip(scored.per_sample, per):
        row.update(extra)
    doc.setdefault("timings", {})["error_analysis"] = round(time.perf_counter() - t, 3)


def workspace_records(ws: Any, gen_manifest: Any, inputs: list[dict], records: Optional[Path]) -> Optional[Path]:
    """The records.jsonl the predictions were made from (appending its input entry if not there yet)."""
    # the analysis's version is an input: scores.json written before it existed (or by another version) is stale
    inputs.append({"kind": "value", "name": "error_analysis", "sha256": VERSION})
    if records is not None:
        return Path(records)
    from cxrgen.stages.score import _find_prepare
    prep = _find_prepare(ws, gen_manifest)
    if prep is None or not ws.records_path(*prep["key"]).is_file():
        return None
    if not any(i.get("stage") == "prepare" for i in inputs):
        inputs.append(prep)
    return ws.records_path(*prep["key"])


def headline(doc: dict) -> dict:
    """The few error-analysis numbers worth a manifest / demo table entry."""
    ea = doc.get("error_analysis") or {}
    if "copying" not in ea:
        return {}
    pri, cop = ea["hallucinated_priors"], ea["copying"]
    return {"prior_hallucination_rate": pri["rate"], "identical_to_training_share": cop["identical_share"],
            "distinct_predictions": cop["distinct_predictions"],
            "nearest_train_bleu4_median": cop["nearest_train_bleu4"]["quantiles"].get("p50")}
