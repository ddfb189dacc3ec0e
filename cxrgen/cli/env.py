"""`cxrgen env`: versions, devices, Java and locations, for bug reports."""

from __future__ import annotations

import typer

from cxrgen.cli.common import emit_json, print_table, workspace


def env(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print versions, devices, Java, and where weights and the workspace are (paste it into a bug report).

    Example: cxrgen env --json
    """
    from cxrgen.stages import env as stage
    info = stage.run(workspace(ctx))
    if json_out:
        emit_json(info)
        return
    from rich.table import Table
    t = Table(title="cxrgen env", show_header=False)
    t.add_column("what", no_wrap=True)
    t.add_column("value", overflow="fold")
    t.add_row("platform", info["platform"])
    for name, version in info["versions"].items():
        t.add_row(name, version)
    d = info["devices"]
    t.add_row("CPUs", str(d["cpu_count"]))
    t.add_row("CUDA", f"available (CUDA {d['torch_cuda']})" if d["cuda_available"] else "not available")
    for g in d["gpus"]:
        t.add_row(f"GPU {g['index']}", f"{g['name']}, {g['memory_gib']} GiB, sm {g['capability']}, bf16 {g['bf16']}")
    j = info["java"]
    t.add_row("java", f"{j['path']} ({j['version']})" if j["path"] else "not found (score's METEOR needs Java 8+)")
    for k, v in info["locations"].items():
        t.add_row(k.replace("_", " "), str(v))
    print_table(t)
