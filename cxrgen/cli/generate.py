"""`cxrgen generate` (being built in issue #5)."""

from __future__ import annotations

import typer


def generate(ctx: typer.Context) -> None:
    """Arrives with issue #5.

    Example: cxrgen generate --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen generate` is not available in this build yet (issue #5)")
