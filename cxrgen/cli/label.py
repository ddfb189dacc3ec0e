"""`cxrgen label`: CheXpert-14 labels (1 / 0 / -1 / null) for reports, with cxrgen's rule-based labeler or CheXbert."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def label(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="reports.jsonl (one JSON object per line) or a plain text file (one report per line)."),
    field: str = typer.Option("report", "--field", help="JSONL field holding the report text."),
    id_field: str = typer.Option("id", "--id-field", help="JSONL field holding the id (default: line number)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write JSON lines here (atomically) instead of stdout."),
    labeler: str = typer.Option("rules", "--labeler", help="rules (cxrgen's, offline, no weights) | chexbert."),
    labeler_weights: Optional[Path] = typer.Option(None, "--labeler-weights", help="chexbert: chexbert.pth or a "
                                                   "folder holding it (local file; never downloaded)."),
    tokenizer: Optional[Path] = typer.Option(None, "--tokenizer", help="chexbert: folder with the bert-base-uncased "
                                             "tokenizer (vocab.txt)."),
    device: str = typer.Option("auto", "--device", help="chexbert: cpu, cuda, cuda:N or auto."),
    batch_size: int = typer.Option(16, "--batch-size", help="chexbert: reports per forward pass."),
    as_json: bool = typer.Option(False, "--json", help="With --out: print a JSON summary (reports, labeler, out) to "
                                                       "stdout. Without --out the labels are JSON lines anyway."),
) -> None:
    """Label reports with the 14 CheXpert observations (rule-based by default; CheXbert from local weights).

    Output: one JSON line per report: id plus one key per class (No Finding, Enlarged Cardiomediastinum,
    Cardiomegaly, Lung Lesion, Lung Opacity, Edema, Consolidation, Pneumonia, Atelectasis, Pneumothorax,
    Pleural Effusion, Pleural Other, Fracture, Support Devices) with 1, 0, -1 (uncertain) or null.

    Example: cxrgen label records.jsonl --field report --out labels.jsonl
    Example: cxrgen label reports.txt --labeler chexbert --labeler-weights chexbert.pth --tokenizer bert-base-uncased/ --device cuda
    Example: cxrgen label records.jsonl --out labels.jsonl --json
    """
    import json
    import sys

    from cxrgen.errors import ConfigError, InputError
    from cxrgen.metrics.labelers import LabelerSpec, make_labeler
    from cxrgen.utils.io import atomic_path, iter_json_lines, iter_text_lines

    if batch_size < 1:
        raise ConfigError(f"--batch-size must be ≥ 1, got {batch_size}")
    if not file.is_file():
        raise InputError(f"{file}: file not found")
    from cxrgen.utils.device import normalize_device, require_available
    dev = require_available(normalize_device(device))  # a bad or absent device: one line before any weights load
    lab = make_labeler(LabelerSpec(labeler, str(labeler_weights or ""), str(tokenizer or ""), device=dev,
                                   batch_size=batch_size))
    jsonl = file.suffix.lower() in (".jsonl", ".json", ".ndjson")
    items: list[tuple[str, str]] = []
    if jsonl:
        for lineno, row in iter_json_lines(file):
            if field not in row:
                raise InputError(f"{file} line {lineno}: missing field {field!r} (choose it with --field)")
            text = "" if row[field] is None else row[field]
            if not isinstance(text, str):
                raise InputError(f"{file} line {lineno}: field {field!r} must be a string")
            items.append((str(row.get(id_field, lineno)), text))
    else:
        items = [(str(lineno), line.rstrip("\r\n")) for lineno, line in iter_text_lines(file)]
    labels = lab.label_many([text for _, text in items])
    lines = (json.dumps({"id": rid, **lab_}) + "\n" for (rid, _), lab_ in zip(items, labels))
    if out:
        with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as g:
            g.writelines(lines)
        typer.echo(f"labelled {len(items)} reports → {out}", err=True)
        if as_json:
            from cxrgen.cli.common import emit_json
            emit_json({"reports": len(items), "labeler": lab.name, "out": str(out)})
    else:
        sys.stdout.writelines(lines)
