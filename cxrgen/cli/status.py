"""`cxrgen status`: every artifact in the workspace and whether it can be trusted."""

from __future__ import annotations

import typer

from cxrgen.cli.common import console, emit_json, print_table, workspace

STYLE = {"up-to-date": "green", "stale": "yellow", "partial": "magenta", "missing": "red", "corrupt": "bold red"}


def status(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list instead of a table."),
    verify: bool = typer.Option(False, "--verify", help="Also re-hash every output file (slow for big caches)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing; exit 0 if all up to date, else 1."),
) -> int:
    """List every artifact as up-to-date / stale / partial / missing / corrupt, and why.

    Example: cxrgen status --json
    """
    from cxrgen.workspace.status import workspace_status

    ws = workspace(ctx)
    rows = workspace_status(ws, verify=verify)
    bad = [r for r in rows if r.state != "up-to-date"]
    if quiet:
        return 1 if bad else 0
    if json_out:
        emit_json({"workspace": str(ws.root), "artifacts": [r.as_dict() for r in rows]})
        return 0
    con = console()
    if not rows:
        con.print(f"No artifacts in {ws.root}. Start with `cxrgen prepare synthetic` or `cxrgen demo`.")
        return 0
    from rich.table import Table
    t = Table(title=f"workspace {ws.root}")
    t.add_column("artifact", no_wrap=True)
    t.add_column("state", no_wrap=True)
    t.add_column("why / fix", overflow="fold")
    for r in rows:
        why = r.reason + (f" → run `{r.fix}`" if r.fix else "")
        t.add_row(r.name, f"[{STYLE.get(r.state, '')}]{r.state}[/]", why)
    print_table(t, con)
    if not bad:
        con.print("All artifacts are up to date.")
    return 0
