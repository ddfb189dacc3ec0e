"""The contract every data set reader fulfils, plus the bits they share.

A reader module exposes ``read(cfg) -> Source``. ``Source.inputs()`` describes the raw inputs for
the artifact fingerprint cheaply (before anything is parsed); ``Source.records(stats)`` yields
:class:`~cxrgen.data.records.Record` objects and counts every dropped study in ``stats`` under a
fixed reason. Readers never touch global RNG state and never log report text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from cxrgen.data.cleaning import get_cleaner, resolve_cleaner
from cxrgen.data.records import FRONTAL, Record
from cxrgen.data.sections import Sections, apply_deid, report_text

# the fixed vocabulary of drop reasons (stats.json, the printed table, docs/manual/data.md)
NO_REPORT = "no report file"
BAD_REPORT = "unreadable report (not UTF-8 / malformed)"
NO_SECTION = "no {section}"
NO_VIEW = "no {views} image"
NO_IMAGE = "no image"
IMAGE_MISSING = "image file missing"
NO_SPLIT = "not in split file"
NOT_IN_ANNOTATION = "not in annotation.json"
EMPTY_REPORT = "empty report in annotation.json"
MAX_EXAMPLES = 20


@dataclass
class Stats:
    dropped: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    # what the reader decided (cleaner, view-order sources, header corrections), written to stats.json
    info: dict = field(default_factory=lambda: {"view_order": Counter(), "header_corrections": Counter()})

    def drop(self, reason: str, example: str | None = None, n: int = 1) -> None:
        self.dropped[reason] += n
        if example and len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{example}: {reason}")

    def note(self, what: str, n: int = 1) -> None:
        self.notes[what] += n


class Source(Protocol):
    dataset: str
    root: str | None

    def inputs(self) -> list[dict]: ...

    def records(self, stats: Stats) -> Iterator[Record]: ...


def views_label(views: tuple[str, ...]) -> str:
    return "/".join(views) if views else "any"


def view_kept(view: str, views: frozenset[str]) -> bool:
    """Empty ``views`` keeps all; ``FRONTAL`` (IU projections) counts as AP or PA."""
    if not views:
        return True
    v = view.upper()
    return v in views or (v == "FRONTAL" and bool(views & set(FRONTAL)))


class ReportMaker:
    """Sections → training target: choose sections, apply the de-id policy, clean."""

    def __init__(self, cfg, family: str):
        self.which, self.deid = cfg.sections, cfg.deid
        self.clean = get_cleaner(cfg.clean, family)
        self.name = resolve_cleaner(cfg.clean, family)
        self.missing = NO_SECTION.format(section=cfg.sections)

    def clean_text(self, text: str) -> str:
        """A report given as one text (R2Gen's annotation.json): de-id policy and cleaner only, on the
        text exactly as given (R2GenGPT cleans the raw annotation text; collapsing first would differ)."""
        return self.clean(apply_deid(text, self.deid)) if text.strip() else ""

    def __call__(self, s: Sections) -> str:
        body = report_text(s, self.which)
        if not body:
            return ""
        return self.clean(apply_deid(body, self.deid))
