"""`cxrgen reproduce` (being built in issue #7)."""

from __future__ import annotations

import typer


def reproduce(ctx: typer.Context) -> None:
    """Arrives with issue #7.

    Example: cxrgen reproduce --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen reproduce` is not available in this build yet (issue #7)")
