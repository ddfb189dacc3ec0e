"""`cxrgen train` (being built in issue #5)."""

from __future__ import annotations

import typer


def train(ctx: typer.Context) -> None:
    """Arrives with issue #5.

    Example: cxrgen train --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen train` is not available in this build yet (issue #5)")
