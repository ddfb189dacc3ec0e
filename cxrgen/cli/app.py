"""Root command: global options, command registration, and clean exits for user errors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from cxrgen import __version__
from cxrgen.cli import audit, demo, embed, env, generate, label, listing, prepare, report, reproduce, score, status, train

app = typer.Typer(
    name="cxrgen",
    help="Chest X-ray report generation with language models.\n\n"
         "Stages pass artifacts through a workspace: prepare → embed → train → generate → score.\n\n"
         "Example: cxrgen demo   (the whole pipeline on synthetic data, on CPU)",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cxrgen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", "-w", envvar="CXRGEN_WORKSPACE",
        help="Workspace folder (default: ./cxrgen-workspace).", show_default=False),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="More logging (-v: debug)."),
    verify: bool = typer.Option(False, "--verify", help="Re-hash every upstream file a stage reads, "
                                "whatever its size (default: size and mtime, content of files up to 64 MB)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    ctx.obj = {"workspace": workspace, "verbose": verbose}
    from cxrgen.workspace.artifact import set_verify
    set_verify(verify)
    from cxrgen.utils.log import setup
    setup(verbose)


app.add_typer(prepare.app, name="prepare")
app.add_typer(listing.app, name="list")
app.command("embed", no_args_is_help=False)(embed.embed)
app.command("train")(train.train)
app.command("generate")(generate.generate)
app.command("score")(score.score)
app.command("report")(report.report)
app.command("audit")(audit.audit)
app.command("label")(label.label)
app.command("status")(status.status)
app.command("demo")(demo.demo)
app.command("reproduce")(reproduce.reproduce)
app.command("env")(env.env)


WORKSPACE_FLAGS = ("--workspace", "-w")


def hoist_workspace(args: list[str]) -> list[str]:
    """``cxrgen status --workspace X`` as ``cxrgen --workspace X status``.

    ``--workspace`` is an option of the whole tool (every stage shares the folder), so click accepts
    it only before the command; users, and our own examples, write it after as well. No command has
    an option of that name, so moving it is unambiguous; everything after ``--`` is left alone.
    """
    i = 0
    while i < len(args) and args[i].startswith("-"):   # global options before the command
        i += 2 if args[i] in WORKSPACE_FLAGS else 1
    moved, rest, j = [], [], i + 1
    while j < len(args):
        a = args[j]
        if a == "--":
            rest += args[j:]
            break
        if a in WORKSPACE_FLAGS and j + 1 < len(args):
            moved += args[j:j + 2]
            j += 2
            continue
        (moved if a.startswith("--workspace=") else rest).append(a)
        j += 1
    return args[:i] + moved + args[i:i + 1] + rest if i < len(args) else list(args)


def _fail(e: "CxrgenError") -> int:
    """Print a user-facing error as one line; its exit code."""
    typer.echo("error: " + " ".join(part.strip() for part in str(e).splitlines() if part.strip()), err=True)
    return e.exit_code


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code (``main([...]) == 0`` in tests)."""
    from cxrgen.errors import CxrgenError, out_of_memory
    interrupted = False
    try:
        rv = app(args=hoist_workspace(list(sys.argv[1:] if argv is None else argv)), prog_name="cxrgen",
                 standalone_mode=False)
    except CxrgenError as e:  # always one line: wrapped library messages can hold newlines
        code = _fail(e)
    except OSError as e:  # a full or read-only disk, a vanished file anywhere in a stage: one line naming it
        from cxrgen.utils.io import os_error
        err = os_error(e)
        typer.echo(f"error: {err}", err=True)
        code = err.exit_code
    except typer.Exit as e:
        code = e.exit_code
    except typer.Abort:  # end of input at a prompt
        typer.echo("aborted", err=True)
        code = 130
    except KeyboardInterrupt:
        interrupted, code = True, 130
    except MemoryError as e:
        code = _fail(out_of_memory(e))
    except Exception as e:  # click usage errors arrive here in non-standalone mode (typer vendors click)
        if hasattr(e, "show") and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            code = e.exit_code
        elif (oom := out_of_memory(e)) is not None:
            code = _fail(oom)
        else:
            raise
    else:
        code = rv if isinstance(rv, int) else 0
        if code == 0:
            from cxrgen.utils import dist
            dist.shutdown()
        # typer turns Ctrl-C (and CXRGEN_FAIL_AT's KeyboardInterrupt) into a silent return of 130
        interrupted = code == 130
    if interrupted:
        typer.echo("interrupted; re-run the same command to resume", err=True)
    if argv is None:
        sys.exit(code)
    return code
