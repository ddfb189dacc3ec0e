"""`cxrgen label` (being built in issue #6)."""

from __future__ import annotations

import typer


def label(ctx: typer.Context) -> None:
    """Arrives with issue #6.

    Example: cxrgen label --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen label` is not available in this build yet (issue #6)")
