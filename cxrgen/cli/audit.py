"""`cxrgen audit`: leakage between the splits of a prepared data set (patients, images, reports)."""

from __future__ import annotations

import typer

from cxrgen.cli.common import console, emit_json, workspace


def audit(
    ctx: typer.Context,
    dataset: str = typer.Option(..., "--dataset", help="prepared data set (prepare/<dataset>/)"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when a patient or an identical image file is in more "
                                "than one split (identical report texts do not count; see --strict-reports)"),
    strict_reports: bool = typer.Option(False, "--strict-reports", help="exit 1 when a patient, an identical image "
                                        "or an identical report text is in more than one split (implies --strict)"),
    images: bool = typer.Option(True, "--images/--no-images", help="hash every image file (reads all the bytes)"),
    json_out: bool = typer.Option(False, "--json", help="print the findings as JSON"),
) -> None:
    """Check a prepared data set for leakage between splits: patients in more than one split, identical
    image files (sha256 of the content) across splits, identical reports across splits. Writes nothing.

    Exit 0 unless asked to fail: --strict exits 1 for a patient or image leak. Identical report texts are
    listed but are no leak for --strict, since short templated normal reports ("no acute cardiopulmonary
    process") repeat in every real data set; --strict-reports exits 1 for them too.

    Example: cxrgen audit --dataset iu --strict
    Example: cxrgen audit --dataset iu --strict-reports
    """
    from cxrgen.stages import audit as stage
    res = stage.run(workspace(ctx), dataset, images=images, strict_reports=strict_reports)
    if json_out:
        emit_json(res)
    else:
        render(res, strict_reports=strict_reports)
    if (strict or strict_reports) and res["leaks"]:
        raise typer.Exit(1)


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def verdict(res: dict, strict_reports: bool = False) -> str:
    """The closing line: what leaks (patients, images) and, separately, how many report texts are shared."""
    p, im, r = res["patients"], res["images"], res["reports"]
    found = [x for x in (_n(p["count"], "patient", "patients") if p["count"] else "",
                         _n(im.get("count", 0), "image", "images") if im.get("count") else "") if x]
    if found:
        total = p["count"] + im.get("count", 0)
        head = f"{_n(total, 'leak', 'leaks')} found: {' and '.join(found)} in more than one split"
    elif "skipped" in im:
        head = f"no patient leak (images not checked: {im['skipped']})"
    else:
        head = "no patient or image leak"
    if not r["count"]:
        tail = "no report text is shared across splits"
    else:
        shared = f"{_n(r['count'], 'report text is', 'report texts are')} identical across splits"
        tail = (f"{shared} (an error with --strict-reports)" if strict_reports else
                f"{shared} (templated normal reports are common; --strict-reports makes this an error)")
    examples = "; --json lists examples" if found or r["count"] else ""
    return f"{head}; {tail}{examples}"


def render(res: dict, strict_reports: bool = False) -> None:
    from rich.table import Table

    from cxrgen.cli.common import print_table
    t = Table(title=f"audit prepare/{res['dataset']}: {res['records']} records "
                    f"({', '.join(f'{s} {n}' for s, n in res['splits'].items())})", title_justify="left")
    t.add_column("check", no_wrap=True)
    t.add_column("in ≥2 splits", justify="right", no_wrap=True)
    t.add_column("records", justify="right", no_wrap=True)
    t.add_column("by split pair", overflow="fold")
    t.add_column("note", overflow="fold")
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
              ("leak (--strict-reports); " if strict_reports and r["count"] else "") +
              f"{r['test_records_with_a_training_report']} test records ({share}) have a training report's exact text")
    c = console()
    print_table(t, c)
    c.print(verdict(res, strict_reports))
