"""`cxrgen embed` (being built in issue #4)."""

from __future__ import annotations

import typer


def embed(ctx: typer.Context) -> None:
    """Arrives with issue #4.

    Example: cxrgen embed --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen embed` is not available in this build yet (issue #4)")
