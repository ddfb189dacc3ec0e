"""`cxrgen score` (being built in issue #6)."""

from __future__ import annotations

import typer


def score(ctx: typer.Context) -> None:
    """Arrives with issue #6.

    Example: cxrgen score --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen score` is not available in this build yet (issue #6)")
