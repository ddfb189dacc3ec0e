"""``prepare --remove-priors``: training targets without references to previous examinations.

Each record's ``report`` is rewritten by :func:`cxrgen.metrics.priors.remove_priors` (comparison clauses
and temporal words deleted, sentences that still refer to a prior dropped); the original target is kept
in ``extra["report_with_priors"]``. Counted in stats.json ``notes``; a record whose whole target was
about priors is dropped (``dropped: report empty after --remove-priors``). Following Ramesh et al.
(ML4H 2022, CXR-ReDonE), who showed that removing such phrases from training targets reduces
hallucinated priors in generated reports; their rewrite was a learned token classifier, ours is rules.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from cxrgen.data.records import Record
from cxrgen.data.source import Stats

EMPTY = "report empty after --remove-priors"


def rewrite(records: Iterable[Record], stats: Stats) -> Iterator[Record]:
    from cxrgen.metrics.priors import remove_priors
    for r in records:
        rw = remove_priors(r.report)
        if rw.changed:
            stats.note("--remove-priors: reports rewritten")
            stats.note("--remove-priors: clauses removed", rw.clauses_removed)
            stats.note("--remove-priors: words removed", rw.words_removed)
            stats.note("--remove-priors: sentences dropped", rw.sentences_dropped)
            if not rw.text.strip():
                stats.drop(EMPTY, r.id)
                continue
            r.extra = dict(r.extra, report_with_priors=r.report)
            r.report = rw.text
        yield r
