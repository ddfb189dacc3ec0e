"""MIMIC-CXR free-text report → sections, with the behaviour of the official MIT-LCP parser.

Reimplements ``txt/section_parser.py`` + the selection rule of ``txt/create_section_files.py`` from
github.com/MIT-LCP/mimic-cxr (behaviour, not code):

- a header is ``\\n <UPPER CASE, space ( ) / , ->:<whitespace>``; text before the first header is the
  ``preamble``; after a header the search for the next one starts after the header's first newline;
- header names are lower-cased and normalised (``comparisons`` → comparison, ``reason for exam`` →
  indication, ``conclusion`` → impression; a name containing impression/findings/history/comparison/
  addendum maps to it; view-like names such as ``pa and lateral`` or ``chest`` map to findings);
- misspelt header names are corrected *before* that, by edit distance against the known header
  names (``NDICATION`` → indication, ``IMPRESSON`` → impression, ``FINDNGS`` → findings,
  ``IMPRESSIONS`` → impression; see :func:`correct_name`) instead of the official parser's fixed
  list of misspellings, which maps ``ndication`` to *impression* and so puts the indication text in
  the impression;
- empty findings/impression sections are dropped;
- when neither findings nor impression exists, the last paragraph (after the first ``"\\n \\n"`` of
  the last section) becomes a ``last_paragraph`` section;
- when a name occurs more than once, the *last* section with it is used.

The per-study manual fixes of ``custom_mimic_cxr_rules()`` (≈55 studies) are not applied.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

_HEADER = re.compile(r"\n ([A-Z ()/,-]+):\s", re.DOTALL)

_FREQUENT = {
    "preamble": "preamble", "impression": "impression", "comparison": "comparison",
    "indication": "indication", "findings": "findings", "examination": "examination",
    "technique": "technique", "history": "history", "comparisons": "comparison",
    "clinical history": "history", "reason for examination": "indication", "notification": "notification",
    "reason for exam": "indication", "clinical information": "history", "exam": "examination",
    "clinical indication": "indication", "conclusion": "impression", "chest, two views": "findings",
    "recommendation(s)": "recommendations", "type of examination": "examination",
    "reference exam": "comparison", "patient history": "history", "addendum": "addendum",
    "comparison exam": "comparison", "date": "date", "comment": "comment",
    "findings and impression": "impression", "wet read": "wet read", "comparison film": "comparison",
    "recommendations": "recommendations", "findings/impression": "impression", "pfi": "history",
    "recommendation": "recommendations", "wetread": "wet read",
    "findings/ impression": "impression", "finding": "findings", "reference findings": "findings",
}
# the names misspellings are corrected towards (one word each: a typo is a character, not a word)
KNOWN = ("impression", "findings", "indication", "comparison", "history", "technique", "examination",
         "recommendations", "addendum", "notification", "conclusion")
_MAIN = ("impression", "findings", "history", "comparison", "addendum")
_VIEWLIKE = re.compile("(chest|portable|pa and lateral|lateral and pa|ap and lateral|lateral and ap|frontal and|"
                       "two views|frontal view|pa view|ap view|one view|lateral view|bone window|frontal upright|"
                       "frontal semi-upright|ribs|pa and lat)")
PARAGRAPH = "\n \n"


def _osa(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a transposition counts 1), or ``limit + 1`` once above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = [], list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def correct_name(name: str) -> str | None:
    """The known header a misspelt name stands for (``ndication`` → ``indication``), or ``None``.

    A name is corrected when exactly one of :data:`KNOWN` is within edit distance 1 (names of 5–9
    letters) or 2 (10 or more); names already known, shorter than 5 letters or of several words are
    left alone, so ``date``, ``exam`` or ``wet read`` never change.
    """
    s = name.lower().strip()
    if s in _FREQUENT or s in KNOWN or len(s) < 5 or " " in s:
        return None
    limit = 1 if len(s) < 10 else 2
    near = {k for k in KNOWN if _osa(s, k, limit) <= limit}
    return near.pop() if len(near) == 1 else None


def normalize_name(name: str) -> str:
    s = name.lower().strip()
    s = correct_name(s) or s
    if s in _FREQUENT:
        return _FREQUENT[s]
    for m in _MAIN:
        if m in s:
            return m
    return "findings" if _VIEWLIKE.search(s) else s


def split_sections(text: str, corrections: Counter | None = None) -> list[tuple[str, str]]:
    """``[(normalised name, raw text), …]`` in report order (see the module docstring); every
    misspelt header corrected is counted in ``corrections`` as ``"ndication → indication"``."""
    out: list[tuple[str, str]] = []
    m = _HEADER.search(text, 0)
    if m is None:
        out.append(("full report", text))
    else:
        out.append(("preamble", text[:m.start(1)]))
        while m is not None:
            name = m.group(1)
            if corrections is not None and (fixed := correct_name(name)):
                corrections[f"{name.strip().lower()} → {fixed}"] += 1
            start = m.end()
            skip = text.find("\n", start)
            skip = 0 if skip == -1 else skip - start
            m = _HEADER.search(text, start + skip)
            out.append((normalize_name(name), text[start:m.start() if m else len(text)]))
    out = [(n, t) for n, t in out if not (n in ("impression", "findings") and not t.strip())]
    names = {n for n, _ in out}
    if "impression" not in names and "findings" not in names:
        name, last = out[-1]
        if PARAGRAPH in last:
            head, *rest = last.split(PARAGRAPH)
            out[-1] = (name, head)
            out.append(("last_paragraph", PARAGRAPH.join(rest)))
    return out


def collapse(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Sections:
    findings: str = ""
    impression: str = ""
    indication: str = ""
    comparison: str = ""
    last_paragraph: str = ""


def extract(text: str, corrections: Counter | None = None) -> Sections:
    """The last section of each kind, whitespace collapsed (not otherwise changed)."""
    last: dict[str, str] = {}
    for name, body in split_sections(text, corrections):
        last[name] = body
    return Sections(**{k: collapse(last.get(k, "")) for k in
                       ("findings", "impression", "indication", "comparison", "last_paragraph")})


# --- de-identification markers ------------------------------------------------------------
DEID_TOKEN = "XXXX"  # IU X-ray's own marker; survives every cleaner as a word
_DEID = re.compile(r"_{2,}|\bX{3,}\b")


def apply_deid(text: str, policy: str) -> str:
    """``keep``: unchanged; ``normalize``: MIMIC's ``___`` (any run of ≥2 underscores) and IU's
    ``XXXX`` become the single word ``XXXX``."""
    if policy == "keep":
        return text
    if policy == "normalize":
        return _DEID.sub(DEID_TOKEN, text)
    raise ValueError(f"unknown deid policy {policy!r}")


def report_text(s: Sections, which: str) -> str:
    """The training target before cleaning: findings, impression or both; the last-paragraph
    fallback stands in when the report has neither header."""
    if which == "findings":
        body = s.findings
    elif which == "impression":
        body = s.impression
    elif which == "findings+impression":
        body = " ".join(t for t in (s.findings, s.impression) if t)
    else:
        raise ValueError(f"unknown sections {which!r}")
    if not body and not s.findings and not s.impression:
        body = s.last_paragraph
    return body
