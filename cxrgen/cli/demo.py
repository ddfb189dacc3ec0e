"""`cxrgen demo`: the whole pipeline on synthetic data with tiny models, on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cxrgen.cli.common import build_config, console, print_table, workspace


def demo(
    ctx: typer.Context,
    n: Optional[int] = typer.Option(None, "--n", help="Synthetic studies (default 1200)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for data, init and shuffling."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML with DemoConfig keys."),
    force: bool = typer.Option(False, "--force", help="Rebuild every artifact even if up to date."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    overrides: Optional[List[str]] = typer.Argument(None, help="key=value overrides, e.g. epochs=4.", show_default=False),
) -> None:
    """Run prepare → embed → train → generate → score on synthetic data and compare with two baselines.

    The trained model should beat both baselines on clinical efficacy (CE): the evidence that the
    generated report follows the image. Takes a few minutes on 2 CPU cores; a rerun reuses artifacts.

    Example: cxrgen demo --workspace /tmp/cxrgen-demo
    """
    from cxrgen.config.schema import DemoConfig
    from cxrgen.stages import demo as stage

    cfg = build_config(DemoConfig, config, overrides, n=n, seed=seed)
    ws = workspace(ctx)
    con = console()
    if json_out:  # stdout carries only the JSON (the log is on stderr); this also catches a library's print
        import contextlib
        import sys
        with contextlib.redirect_stdout(sys.stderr):
            summary = stage.run(cfg, ws=ws, force=force)
    else:
        summary = stage.run(cfg, ws=ws, force=force)
    if json_out:
        import json
        typer.echo(json.dumps(summary, indent=2))  # keys in pipeline order, not sorted
        return
    from rich.table import Table
    t = Table(title="cxrgen demo: synthetic test split")
    t.add_column("system", style="bold")
    for _, title in stage.COLUMNS:
        t.add_column(title, justify="right", no_wrap=True)
    for label, m in summary["results"].items():
        t.add_row(label, *(f"{m.get(k, float('nan')):.3f}" for k, _ in stage.COLUMNS))
    print_table(t, con)
    if summary.get("ce"):
        ce = summary["ce"]
        con.print(f"CE columns: {ce['reference']}, uncertain={ce['uncertain']}, labeler {ce['labeler']}.")
    con.print(f"Times (s): {summary['timings']}")
    con.print(f"Next: `cxrgen --workspace {ws.root} status` lists every artifact; predictions are in "
              f"{ws.root}/generate/{stage.RUN}/test/preds.jsonl, scores in {ws.root}/score/{stage.RUN}/test/scores.json; "
              f"`cxrgen --workspace {ws.root} report --run {stage.RUN} --split test --compare {stage.MAJORITY}/test` "
              "writes a page to look at every study.")
