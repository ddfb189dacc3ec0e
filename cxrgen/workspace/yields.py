"""How much of the input an artifact kept: empty results are errors, lopsided ones warnings.

Every stage that writes an artifact calls :func:`check_yield` before committing it (prepare: records
vs studies read, embed: images embedded vs listed, generate: predictions vs records). An artifact
with 0 kept items is never written: the error names the top drop reason, its count and the likely
fix. When one reason removed more than half of the input, a warning line names it (an error under
``--strict``), so a run that silently lost most of a data set cannot pass unnoticed.
"""

from __future__ import annotations

import logging
from typing import Mapping

from cxrgen.errors import EmptyResultError

log = logging.getLogger("cxrgen")
LOPSIDED = 0.5  # a single drop reason above this share of the input is worth a warning


def _top(dropped: Mapping[str, int]) -> tuple[str, int] | None:
    items = [(r, n) for r, n in dropped.items() if n > 0]
    return max(items, key=lambda x: (x[1], x[0])) if items else None


def check_yield(what: str, kept: int, dropped: Mapping[str, int], *, unit: str = "studies",
                fixes: Mapping[str, str] | None = None, default_fix: str = "", strict: bool = False) -> str | None:
    """Raise when nothing was kept; warn (or with ``strict`` raise) when one reason dropped most.

    ``what`` names the artifact (``prepare/iu``), ``kept`` the items it would hold, ``dropped`` the
    count per drop reason (the fixed vocabulary of :mod:`cxrgen.data.source`), ``fixes`` a fix per
    reason (``default_fix`` otherwise). Returns the warning line (``None`` if there is none).

    Raises :class:`~cxrgen.errors.EmptyResultError` (exit 3, bad input), e.g.
    ``prepare/iu: 0 of 3 studies kept: image file missing ×3; pass --annotation annotation.json``.
    """
    fixes = fixes or {}
    total = kept + sum(n for n in dropped.values() if n > 0)
    top = _top(dropped)
    if kept == 0:
        if top is None:
            raise EmptyResultError(f"{what}: 0 {unit} to write (the input holds none); {default_fix or 'check the input paths'}")
        reason, n = top
        fix = fixes.get(reason) or default_fix
        raise EmptyResultError(f"{what}: 0 of {total} {unit} kept: {reason} ×{n}" + (f"; {fix}" if fix else ""))
    if top is None or top[1] <= LOPSIDED * total:
        return None
    reason, n = top
    fix = fixes.get(reason) or default_fix
    line = (f"{what}: {reason} dropped {n} of {total} {unit} ({100 * n / total:.0f}%)"
            + (f"; {fix}" if fix else ""))
    if strict:
        raise EmptyResultError(line + " (--strict)")
    log.warning(line)
    return line
