"""`cxrgen audit`: leakage between the splits of a prepared data set (patients, images, reports)."""

from __future__ import annotations

import typer

from cxrgen.cli.common import console, emit_json, workspace


def audit(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", help="prepared data set (prepare/<dataset>/)"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when a patient or an image is in more than one split"),
    strict_reports: bool = typer.Option(False, "--strict-reports", help="with --strict: identical report texts across splits count too"),
    images: bool = typer.Option(True, "--images/--no-images", help="hash every image file (reads all the bytes)"),
    json_out: bool = typer.Option(False, "--json", help="print the findings as JSON"),
) -> None:
    """Check a prepared data set for leakage between splits: patients in more than one split, identical
    image files (sha256 of the content) across splits, identical reports across splits. Writes nothing.

    Example: cxrgen audit --dataset iu --strict
    """
    from cxrgen.stages import audit as stage
    res = stage.run(workspace(ctx), dataset, images=images, strict_reports=strict_reports)
    if json_out:
        emit_json(res)
    else:
        render(res)
    if strict and res["leaks"]:
        raise typer.Exit(1)


def render(res: dict) -> None:
    from rich.table import Table
    t = Table(title=f"audit prepare/{res['dataset']}: {res['records']} records "
                    f"({', '.join(f'{s} {n}' for s, n in res['splits'].items())})", title_justify="left")
    for col in ("check", "in ≥ 2 splits", "records involved", "by split pair", "note"):
        t.add_column(col, justify="right" if col in ("in ≥ 2 splits", "records involved") else "left")
    pairs = (lambda c: ", ".join(f"{k}: {v}" for k, v in c.get("pairs", {}).items()) or "–")
    p, im, r = res["patients"], res["images"], res["reports"]
    t.add_row("patients", str(p["count"]), str(p["records"]), pairs(p), "leak" if p["count"] else "")
    if "skipped" in im:
        t.add_row("identical images", "–", "–", "–", f"skipped: {im['skipped']}")
    else:
        note = f"{im['hashed']} files hashed" + (f", {im['unreadable_count']} unreadable" if im["unreadable_count"] else "")
        t.add_row("identical images", str(im["count"]), str(im["records"]), pairs(im), ("leak; " if im["count"] else "") + note)
    share = "n/a" if r["test_share"] is None else f"{r['test_share']:.1%}"
    t.add_row("identical reports", str(r["count"]), str(r["records"]), pairs(r),
              f"{r['test_records_with_a_training_report']} test records ({share}) have a training report's exact text")
    c = console()
    c.print(t)
    c.print("no leak found" if not res["leaks"] else f"{res['leaks']} leak(s) found (patients/images"
            f"{'/reports' if res['leaks'] > p['count'] + im.get('count', 0) else ''}); --json lists examples")
