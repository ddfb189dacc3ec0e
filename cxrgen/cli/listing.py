"""`cxrgen list encoders|llms|modes|datasets|labelers`: the registries, with one-line descriptions."""

from __future__ import annotations

import typer

from cxrgen.cli.common import emit_json, print_table

app = typer.Typer(help="List registry entries (encoders, llms, modes, datasets, labelers); alone, all of them.\n\n"
                  "Example: cxrgen list llms", invoke_without_command=True)


def _show(kind: str, rows: list[tuple[str, str]], json_out: bool) -> None:
    if json_out:
        emit_json([{"name": n, "description": d} for n, d in rows])
        return
    from rich.table import Table
    t = Table(title=kind)
    t.add_column("name", style="bold", no_wrap=True)
    t.add_column("description", overflow="fold")
    for n, d in rows:
        t.add_row(n, d)
    print_table(t)


JSON = typer.Option(False, "--json", help="Print JSON.")


@app.command("encoders")
def encoders(json_out: bool = JSON) -> None:
    """Image encoders for `cxrgen embed --encoder`.  Example: cxrgen list encoders"""
    from cxrgen.models.catalog import ENCODERS
    _show("encoders", ENCODERS.describe(), json_out)


@app.command("llms")
def llms(json_out: bool = JSON) -> None:
    """Language models for `cxrgen train --llm` (any HF id or local dir also works).  Example: cxrgen list llms"""
    from cxrgen.models.catalog import LLMS
    _show("llms", LLMS.describe(), json_out)


@app.command("modes")
def modes(json_out: bool = JSON) -> None:
    """Training recipes for `cxrgen train --mode`.  Example: cxrgen list modes"""
    from cxrgen.models.catalog import MODES
    _show("modes", MODES.describe(), json_out)


@app.command("datasets")
def datasets(json_out: bool = JSON) -> None:
    """Data set readers for `cxrgen prepare`.  Example: cxrgen list datasets"""
    from cxrgen.models.catalog import DATASETS
    _show("datasets", DATASETS.describe(), json_out)


@app.command("labelers")
def labelers(json_out: bool = JSON) -> None:
    """CheXpert-14 labelers for `cxrgen score --labeler` and `cxrgen label --labeler`.  Example: cxrgen list labelers"""
    from cxrgen.metrics.labelers import LABELERS
    _show("labelers", LABELERS.describe(), json_out)


@app.callback()
def everything(ctx: typer.Context, json_out: bool = JSON) -> None:
    """`cxrgen list` alone: every registry (it used to print the help and exit 2, like a usage error)."""
    if ctx.invoked_subcommand is not None:
        return
    tables = (encoders, llms, modes, datasets, labelers)
    if not json_out:
        for show in tables:
            show(False)
        return
    import contextlib
    import io
    import json
    out = {}
    for show in tables:                      # each prints its own JSON list; gather them under their names
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            show(True)
        out[show.__name__] = json.loads(buf.getvalue())
    emit_json(out)
