"""`cxrgen report`: one self-contained HTML page to look at what a run wrote."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cxrgen.cli.common import build_config, console, emit_json, workspace


def report(
    ctx: typer.Context,
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides (e.g. max_studies=200)",
                                                    show_default=False),
    run: Optional[str] = typer.Option(None, "--run", "--run-name", help="run to show (default: the latest finished training run)"),
    split: Optional[str] = typer.Option(None, "--split", help="folder under generate/<run>/ (default: test)"),
    compare: Optional[str] = typer.Option(None, "--compare", help="another scored system on the same references, RUN or RUN/SPLIT"),
    redact: Optional[bool] = typer.Option(None, "--redact/--no-redact", help="finding labels instead of report text"),
    max_studies: Optional[int] = typer.Option(None, "--max-studies", help="study cards on the page, worst first (default 1000)"),
    thumbnail_size: Optional[int] = typer.Option(None, "--thumbnail-size", help="thumbnail side in px (0: no images; default 192)"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with ReportConfig keys"),
    force: bool = typer.Option(False, "--force", help="rebuild even if up to date"),
    json_out: bool = typer.Option(False, "--json", help="print the manifest (with --dry-run: the plan) as JSON"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print what would be read and written, and whether the "
                                                          "page is up to date; write nothing"),
) -> None:
    """Write report/<run>/<split>/index.html: metrics with CIs, loss curves, per-finding table, error
    analysis and every study (images, generated vs reference, label disagreements), worst first.

    The page opens offline (no server, nothing fetched). Report text can be patient data: the page says
    where it came from and stays inside the workspace; --redact writes labels only.

    Example: cxrgen report --run demo-prefix --split test --compare demo-majority/test
    Example: cxrgen report --run demo-prefix --dry-run
    """
    from cxrgen.config.schema import ReportConfig
    from cxrgen.stages import report as stage
    cfg = build_config(ReportConfig, config, overrides, run=run, split=split, compare=compare, redact=redact,
                       max_studies=max_studies, thumbnail_size=thumbnail_size)
    if dry_run:
        p = stage.plan(cfg, workspace(ctx), force=force)
        if json_out:
            emit_json(p)
        else:
            typer.echo(stage.render_plan(p))
        return
    m = stage.run(cfg, ws=workspace(ctx), force=force)
    path = workspace(ctx).artifact_dir("report", *m.key) / "index.html"
    if json_out:
        import dataclasses
        emit_json(dataclasses.asdict(m) | {"path": str(path)})
    else:
        console().print(f"wrote {path} ({m.counts.get('studies')} studies); open it in a browser: file://{path}")
