"""`cxrgen demo` (being built in issue #8)."""

from __future__ import annotations

import typer


def demo(ctx: typer.Context) -> None:
    """Arrives with issue #8.

    Example: cxrgen demo --help
    """
    from cxrgen.errors import CxrgenError
    raise CxrgenError("`cxrgen demo` is not available in this build yet (issue #8)")
