"""`cxrgen label`: CheXpert-14 labels (1 / 0 / -1 / null) for reports, with cxrgen's rule-based labeler."""

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
) -> None:
    """Label reports with the 14 CheXpert observations (rule-based, offline, no weights).

    Output: one JSON line per report: id plus one key per class (No Finding, Enlarged Cardiomediastinum,
    Cardiomegaly, Lung Lesion, Lung Opacity, Edema, Consolidation, Pneumonia, Atelectasis, Pneumothorax,
    Pleural Effusion, Pleural Other, Fracture, Support Devices) with 1, 0, -1 (uncertain) or null.

    Example: cxrgen label records.jsonl --field report --out labels.jsonl
    """
    import json
    import sys

    from cxrgen.errors import InputError
    from cxrgen.metrics.chexpert import default_labeler
    from cxrgen.utils.io import atomic_path

    if not file.is_file():
        raise InputError(f"{file}: file not found")
    jsonl = file.suffix.lower() in (".jsonl", ".json", ".ndjson")
    items: list[tuple[str, str]] = []
    with open(file, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{file} line {lineno}: not valid UTF-8 text (byte {e.start}); save the file as UTF-8") from None
            if jsonl:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{file} line {lineno}: not valid JSON ({e.msg})") from None
                if not isinstance(row, dict) or field not in row:
                    raise InputError(f"{file} line {lineno}: missing field {field!r} (choose it with --field)")
                text = row[field]
                if text is None:
                    text = ""
                if not isinstance(text, str):
                    raise InputError(f"{file} line {lineno}: field {field!r} must be a string")
                items.append((str(row.get(id_field, lineno)), text))
            else:
                items.append((str(lineno), line.rstrip("\r\n")))
    lab = default_labeler()
    lines = (json.dumps({"id": rid, **lab.label(text)}) + "\n" for rid, text in items)
    if out:
        with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as g:
            g.writelines(lines)
        typer.echo(f"labelled {len(items)} reports → {out}", err=True)
    else:
        sys.stdout.writelines(lines)
