"""`cxrgen reproduce`: run a paper's setting end to end and print its numbers beside ours."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cxrgen.cli.common import console, emit_json, print_table, workspace


def reproduce(
    ctx: typer.Context,
    setting: Optional[str] = typer.Argument(None, help="Setting name (`cxrgen reproduce --list`).", show_default=False),
    list_: bool = typer.Option(False, "--list", help="List the settings and the tables they reproduce."),
    iu_reports: Optional[Path] = typer.Option(None, "--iu-reports", help="IU X-ray reports (NLMCXR_reports.tgz, XML dir or CSV)."),
    iu_images: Optional[Path] = typer.Option(None, "--iu-images", help="IU X-ray PNG folder."),
    annotation: Optional[Path] = typer.Option(None, "--annotation", help="R2Gen's annotation.json: iu_xray's gives the IU "
                                              "split (else a seeded 70/10/20 split), alone the whole copy (images/ "
                                              "beside it); mimic_cxr's is required by r2gengpt-*-mimic."),
    mimic_root: Optional[Path] = typer.Option(None, "--mimic-root", help="MIMIC-CXR-JPG root (r2gengpt-*-mimic: "
                                              "optional, adds views and CheXpert labels)."),
    mimic_images: Optional[Path] = typer.Option(None, "--mimic-images", help="r2gengpt-*-mimic: the images folder of "
                                                "R2Gen's mimic_cxr copy (default: images/ beside --annotation)."),
    mimic_reports: Optional[Path] = typer.Option(None, "--mimic-reports", help="MIMIC-CXR reports: mimic-cxr-reports.zip "
                                                 "or the files/ folder; default: under --mimic-root."),
    llm_weights: Optional[Path] = typer.Option(None, "--llm-weights", help="Local folder of the LLM (default: its Hugging Face id)."),
    encoder_weights: Optional[str] = typer.Option(None, "--encoder-weights", help="Image encoder weights (file, folder or HF id)."),
    configs: Optional[Path] = typer.Option(None, "--configs", help="Folder of the preset YAMLs (default: the presets shipped in the package, cxrgen/presets)."),
    compare_only: bool = typer.Option(False, "--compare", help="Only print the table from an existing scores.json."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands, run nothing; paths not given show as "
                                 "placeholders (MIMIC_ROOT), listed after the commands."),
    json_out: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> int:
    """Reproduce a published setting: prepare → embed → train → generate → score, then compare.

    Example: cxrgen reproduce r2gengpt-shallow-iu --iu-reports NLMCXR_reports.tgz --iu-images images/ --dry-run
    """
    from cxrgen import reproduce as rp
    from cxrgen.errors import ConfigError
    from cxrgen.papers import SETTINGS

    con = console()
    if list_:
        if json_out:
            emit_json([rp.describe(s) for s in SETTINGS.values()])
            return 0
        for s in SETTINGS.values():   # plain lines: the texts are too long for table cells at 80 columns
            exact = f"{s.trainable_params:,} (cxrgen exact)" if s.trainable_params else "— (not counted)"
            con.print(f"[bold]{s.name}[/bold] — {s.short}: {s.table}", soft_wrap=True)
            con.print(f"    trainable {exact}; the paper states: {s.paper_params or '—'}; "
                      f"{len(s.differs)} known differences", markup=False, soft_wrap=True)
        con.print("`cxrgen reproduce SETTING --dry-run` prints a setting's commands and its differences from the paper")
        return 0
    if not setting:
        raise ConfigError("name a setting (e.g. `cxrgen reproduce r2gengpt-shallow-iu`) or use --list")
    s = rp.get(setting)
    ws = workspace(ctx)
    cmds: list = []
    missing: list = []
    if compare_only:
        rows = rp.compare(s, rp.scores_path(ws.root, s))
        if not json_out:
            for line in rp.differs_lines(s):
                con.print(line, markup=False, soft_wrap=True)
    else:
        paths = dict(iu_reports=iu_reports, iu_images=iu_images, annotation=annotation, mimic_root=mimic_root,
                     mimic_reports=mimic_reports, mimic_images=mimic_images, llm_weights=llm_weights)
        roots = rp.Roots(**{k: str(v) if v else "" for k, v in paths.items()}, encoder_weights=encoder_weights or "")
        echo = (lambda line: None) if json_out else (lambda line: con.print(line, markup=False, soft_wrap=True))
        cmds, rows, missing = rp.run(s, roots, workspace=str(ws.root), configs=configs, dry_run=dry_run, echo=echo)
    if json_out:
        d = rp.describe(s)
        emit_json({"setting": s.name, "table": s.table, "paper": s.paper, "rows": rows,
                   "commands": [["cxrgen", *c] for c in cmds], "differs": d["differs"],
                   "missing": [{"option": m.option, "placeholder": m.placeholder, "what": m.what} for m in missing],
                   "trainable_params": d["trainable_params"], "trainable_params_source": d["trainable_params_source"],
                   "paper_params": d["paper_params"]})
        return 0
    from rich.table import Table
    t = Table(title=f"{s.name}: {s.short} — {s.table}")
    t.add_column("metric", overflow="fold")
    for c in ("paper", "ours", "Δ"):
        t.add_column(c, justify="right", no_wrap=True)
    fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
    for r in rows:
        t.add_row(r["metric"] + (f" ({r['setting']})" if r.get("setting") else ""), fmt(r["paper"]), fmt(r["ours"]), "" if r["delta"] is None else f"{r['delta']:+.3f}")
    print_table(t, con)
    return 0
