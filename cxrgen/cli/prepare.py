"""`cxrgen prepare mimic|iu|synthetic`: reports → cleaned, split records.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cxrgen.cli.common import build_config, console, csv_list, print_table, workspace

app = typer.Typer(
    help="Read a data set, extract and clean report sections, filter views, split; write records.jsonl.\n\n"
         "Counted skips (listed with counts in the printed table and stats.json): studies without a report "
         "file, with an unreadable report (not UTF-8, malformed XML), without the chosen section, without "
         "an image of the kept views, not in the split file / annotation.json. on_error=fail turns a "
         "missing or unreadable report into an error.\n\n"
         "A result with 0 records is an error naming the top drop reason and its fix; one reason dropping more "
         "than half of the studies is a warning (--strict: an error).\n\n"
         "Errors (one line naming file and line; nothing is written, a previous artifact stays): missing "
         "CSV columns, wrong field counts, non-UTF-8 CSV text, unreadable zip/tgz, duplicate ids, "
         "unknown split or label values, image paths escaping the data set root.\n\n"
         "Example: cxrgen prepare synthetic --n 500",
    no_args_is_help=True)

VIEWS = typer.Option(None, "--views", help="Comma-separated views to keep, e.g. AP,PA (default AP,PA; 'all' keeps every view).")
PER_IMAGE = typer.Option(None, "--per-image/--per-study", help="One record per image (the paper's image–report pairs) or per study.")
SECTIONS = typer.Option(None, "--sections", help="findings | impression | findings+impression.")
CLEAN = typer.Option(None, "--clean", help="r2gen (R2Gen's rules) | r2gengpt (R2GenGPT's MIMIC rules, keeps ':') | lower (lowercase, strip special characters) | none.")
NAME = typer.Option(None, "--name", help="Workspace name of the prepared set (default: the reader's name).")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config file.")
FORCE = typer.Option(False, "--force", help="Rebuild even if up to date.")
DRY = typer.Option(False, "--dry-run", help="Read and count, write nothing.")
JSON = typer.Option(False, "--json", help="Print the summary (or the --dry-run plan) as JSON.")
REMOVE_PRIORS = typer.Option(None, "--remove-priors/--keep-priors", help="Rewrite targets without references to previous exams "
                                                                          "('unchanged', 'compared to the prior'); the original stays in the record.")
STRICT = typer.Option(False, "--strict", help="Fail (write nothing) when one drop reason removes more than half of the studies.")
OVERRIDES = typer.Argument(None, help="key=value config overrides, e.g. seed=3.", show_default=False)


def _views(v: Optional[str]) -> Optional[tuple]:
    if v is None:
        return None
    return () if v.strip().lower() == "all" else csv_list(v.upper())


def _run(ctx: typer.Context, dataset: str, config: Optional[Path], overrides, force: bool, dry_run: bool,
         preset: Optional[dict] = None, strict: bool = False, json_out: bool = False, **opts) -> None:
    from cxrgen.config.schema import PrepareConfig
    from cxrgen.stages import prepare as stage
    cfg = build_config(PrepareConfig, config, overrides, preset=preset, dataset=dataset, **opts)
    ws = workspace(ctx)
    res = stage.run(cfg, ws=ws, force=force, dry_run=dry_run, strict=strict)
    info = res if dry_run else stage.summary(ws, res)
    if json_out:
        from cxrgen.cli.common import emit_json
        emit_json(info)
    else:
        render_summary(info)


def render_summary(info: dict) -> None:
    """The split × view table of a prepared set (or what a dry run would write), and its drop reasons."""
    from rich.table import Table
    con = console()
    doc, name = info["stats"], info["name"]
    if doc is None:
        g = info.get("would_generate") or {}
        if g:
            con.print(f"dry run: would write {g['studies']} synthetic studies ({g['layout']} layout, "
                      f"{g['image_size']} px, seed {g['seed']}) to {g['root']}, then prepare them as prepare/{name}")
        return
    t = Table(title=f"prepare/{name} ({info['status']})", caption=f"{doc['records']} records, {doc['images']} images")
    for c in ("split", "view", "images", "records"):
        t.add_column(c, justify="right" if c in ("images", "records") else "left", no_wrap=True)
    by_split: dict[str, list] = {}
    for key, n in doc["images_by_split_view"].items():
        s, v = key.split("/", 1)
        by_split.setdefault(s, []).append((v, n))
    for s in ("train", "val", "test"):
        for i, (v, n) in enumerate(by_split.get(s, [])):
            t.add_row(s if i == 0 else "", v, str(n), str(doc["splits"].get(s, 0)) if i == 0 else "")
    print_table(t, con)
    if doc["dropped"] or doc["notes"]:
        d = Table(title="dropped studies / notes")
        d.add_column("reason", overflow="fold")
        d.add_column("count", justify="right", no_wrap=True)
        for reason, n in doc["dropped"].items():
            d.add_row(f"dropped: {reason}", str(n))
        for what, n in doc["notes"].items():
            d.add_row(f"note: {what}", str(n))
        print_table(d, con)


@app.command("mimic")
def mimic(
    ctx: typer.Context,
    root: Optional[Path] = typer.Option(None, "--root", help="MIMIC-CXR-JPG root (holds mimic-cxr-2.0.0-*.csv.gz and files/); with --annotation: only for views and CheXpert labels."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="MIMIC-CXR reports: a files/ tree or mimic-cxr-reports.zip (default: --root)."),
    annotation: Optional[Path] = typer.Option(None, "--annotation", help="R2Gen's mimic_cxr/annotation.json: records, text and split from it (270,790/2,130/3,858)."),
    images: Optional[Path] = typer.Option(None, "--images", help="With --annotation: the folder its image_path entries start in (default: images/ beside it)."),
    views: Optional[str] = VIEWS, per_image: Optional[bool] = PER_IMAGE, sections: Optional[str] = SECTIONS,
    clean: Optional[str] = CLEAN,
    deid: Optional[str] = typer.Option(None, "--deid", help="keep | normalize the '___' de-identification markers."),
    name: Optional[str] = NAME, config: Optional[Path] = CONFIG, force: bool = FORCE, dry_run: bool = DRY, json_out: bool = JSON,
    strict: bool = STRICT, remove_priors: Optional[bool] = REMOVE_PRIORS, overrides: Optional[List[str]] = OVERRIDES,
) -> None:
    """MIMIC-CXR-JPG with the official split and AP/PA filter, or R2Gen's mimic_cxr copy.

    Example: cxrgen prepare mimic --root /data/mimic-cxr-jpg/2.1.0 --reports /data/mimic-cxr-reports.zip

    Example: cxrgen prepare mimic --annotation /data/mimic_cxr/annotation.json
    """
    preset = ANNOTATION_DEFAULTS if annotation else None
    _run(ctx, "mimic", config, overrides, force, dry_run, json_out=json_out, preset=preset, strict=strict,
         root=str(root) if root else None, reports=str(reports) if reports else None,
         annotation=str(annotation) if annotation else None, images=str(images) if images else None,
         split="r2gen" if annotation else None, views=_views(views), per_image=per_image,
         sections=sections, clean=clean, deid=deid, name=name, remove_priors=remove_priors)


# R2Gen's MIMIC copy: its entries as R2GenGPT uses them (every view, R2GenGPT's cleaner)
ANNOTATION_DEFAULTS = {"views": [], "clean": "r2gengpt"}
# IU X-ray: every view by default (R2Gen/R2GenGPT use frontal + lateral) and no official split
IU_DEFAULTS = {"views": [], "split": "random"}


@app.command("iu")
def iu(
    ctx: typer.Context,
    reports: Optional[Path] = typer.Option(None, "--reports", help="NLMCXR_reports.tgz, a folder of OpenI XML, or indiana_reports.csv (optional with --annotation)."),
    projections: Optional[Path] = typer.Option(None, "--projections", help="Kaggle indiana_projections.csv (with the CSV reports)."),
    images: Optional[Path] = typer.Option(None, "--images", help="Folder of the PNG images: OpenI's flat PNGs or R2Gen's <id>/0.png folders (default with --annotation: images/ beside it)."),
    split: Optional[str] = typer.Option(None, "--split", help="r2gen (needs --annotation) | random (by patient, seeded)."),
    annotation: Optional[Path] = typer.Option(None, "--annotation", help="R2Gen's iu_xray/annotation.json (2,069/296/590); alone it gives the records, text and images."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the random split."),
    views: Optional[str] = VIEWS, per_image: Optional[bool] = PER_IMAGE, sections: Optional[str] = SECTIONS,
    clean: Optional[str] = CLEAN, name: Optional[str] = NAME, config: Optional[Path] = CONFIG,
    force: bool = FORCE, dry_run: bool = DRY, json_out: bool = JSON, strict: bool = STRICT, remove_priors: Optional[bool] = REMOVE_PRIORS,
    overrides: Optional[List[str]] = OVERRIDES,
) -> None:
    """IU X-ray / OpenI reports (XML tarball read without unpacking, XML folder, Kaggle CSVs) or R2Gen's iu_xray copy.

    Example: cxrgen prepare iu --reports NLMCXR_reports.tgz --split random --seed 0

    Example: cxrgen prepare iu --annotation iu_xray/annotation.json
    """
    _run(ctx, "iu", config, overrides, force, dry_run, json_out=json_out, preset=IU_DEFAULTS, strict=strict,
         reports=str(reports) if reports else None,
         projections=str(projections) if projections else None, images=str(images) if images else None,
         split=split or ("r2gen" if annotation else None),
         annotation=str(annotation) if annotation else None, seed=seed, views=_views(views),
         per_image=per_image, sections=sections, clean=clean, name=name, remove_priors=remove_priors)


@app.command("synthetic")
def synthetic(
    ctx: typer.Context,
    n: Optional[int] = typer.Option(None, "--n", help="Number of studies (default 2000)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed (the data set is deterministic for a seed)."),
    layout: Optional[str] = typer.Option(None, "--layout", help="mimic | iu on-disk layout."),
    root: Optional[Path] = typer.Option(None, "--root", help="Where to write the images (default: WORKSPACE/data/<name>)."),
    views: Optional[str] = VIEWS, per_image: Optional[bool] = PER_IMAGE, sections: Optional[str] = SECTIONS,
    clean: Optional[str] = CLEAN, name: Optional[str] = NAME, config: Optional[Path] = CONFIG,
    force: bool = FORCE, dry_run: bool = DRY, json_out: bool = JSON, strict: bool = STRICT, remove_priors: Optional[bool] = REMOVE_PRIORS,
    prior_mentions: Optional[float] = typer.Option(None, "--prior-mentions", help="Share of reports given a reference "
                                                   "to a prior exam that does not exist (default 0)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes drawing images (0: one per CPU core, "
                                          "at most 4; default 0)."),
    overrides: Optional[List[str]] = OVERRIDES,
) -> None:
    """Make a synthetic CXR data set with visible findings and matching reports, then prepare it.

    Example: cxrgen prepare synthetic --n 2000 --seed 0
    """
    _run(ctx, "synthetic", config, overrides, force, dry_run, json_out=json_out, strict=strict, n=n, seed=seed, layout=layout,
         root=str(root) if root else None, views=_views(views), per_image=per_image, sections=sections,
         clean=clean, name=name, remove_priors=remove_priors, prior_mentions=prior_mentions, workers=workers)
