"""Rule-based detection and removal of references to a previous examination ("prior") in report text.

A generated report that says "unchanged", "again seen" or "compared to the prior study" for a study that
has no prior examination is a hallucination. Ramesh, Chi & Rajpurkar, "Improving Radiology Report
Generation Systems by Removing Hallucinated References to Non-existent Priors" (ML4H 2022, CXR-ReDonE)
showed that such references are frequent in MIMIC-CXR targets and in generated reports, and that
removing them from the training targets reduces them in the output. Their rewrite used a token
classifier (GILBERT); the rules here are our own regular expressions, sentence by sentence.

A sentence *refers to a prior* when it matches one of :data:`PRIOR_PATTERNS` and does not state that
no prior exists (:data:`NO_PRIOR`, e.g. "No prior studies available for comparison"). History such as
"prior sternotomy" or "old rib fractures" is not an examination and is not matched.

:func:`remove_priors` rewrites a report: comparison clauses ("Compared to the prior study, …") and
temporal words ("new", "again", "interval") are deleted from a sentence; a sentence that still refers
to a prior after that ("Heart size is unchanged.") is dropped, as is a sentence that only says no
prior exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Nouns that name an examination (what "the prior …" must be followed by to be a prior exam).
_EXAM = (r"(?:stud(?:y|ies)|exam(?:ination)?s?|radiographs?|films?|images?|imaging|x-?rays?|cxrs?|ct|"
         r"chest (?:x-?rays?|radiographs?|films?|ct)|one|comparison|(?:portable )?(?:ap|pa) (?:view|radiograph))")
_WHEN = r"(?:prior|previous|preceding|earlier|recent|last|most recent|outside|old|yesterday'?s?|today'?s? earlier)"
# "compared to the prior study", "in comparison with the previous radiograph", "compared to ___", "from 2 days ago"
_COMPARED = (rf"(?:(?:as |when )?compared (?:to|with)|in comparison (?:to|with)|comparison (?:is made )?(?:to|with)|"
             rf"relative to|since|from)\s+(?:the\s+|a\s+)?(?:{_WHEN}\s+{_EXAM}\b|{_WHEN}(?=\s*[.,;]|\s*$)|{_EXAM}\s+(?:of|from|dated|on)\b|"
             rf"_{{2,}}|yesterday|\d+\s+(?:hours?|days?|weeks?|months?|years?) (?:ago|prior|earlier))")

PRIOR_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple((name, re.compile(rx, re.I)) for name, rx in (
    ("compared to a prior", _COMPARED),
    ("prior/previous exam", rf"\b{_WHEN}\s+{_EXAM}\b"),
    ("unchanged", r"\bunchanged\b"),
    ("no change", r"\b(?:no|without|little|minimal)\s+(?:significant\s+|substantial\s+|appreciable\s+|interval\s+)?change\b"),
    ("stable", r"(?<!hemodynamically )(?<!clinically )\bstabl[ey]\b"),
    ("again", r"\bagain\b"),
    ("interval", r"\binterval(?:ly)?\b"),
    ("new", r"\bnew(?:ly)?\b"),
    ("re-demonstrated", r"\bre-?demonstrat\w*"),
    ("previously", r"\bpreviously\b"),
    ("persistent", r"\bpersist\w*"),
    ("remains", r"\bremain(?:s|ed|ing)?\b"),
    ("has changed", r"\b(?:has|have|had)\s+(?:\w+\s+)?(?:increased|decreased|improved|worsened|resolved|progressed|"
                    r"enlarged|grown|cleared|developed|been removed|been placed)\b"),
    ("improved/worsened", r"\b(?:improv(?:ed|ing|ement)|worsen(?:ed|ing)|resolv(?:ed|ing)|resolution|progress(?:ed|ion|ing)|"
                          r"(?:increas|decreas)(?:ed|ing) in (?:size|extent|severity|conspicuity))\b"),
    ("as before", r"\b(?:as|than) (?:before|previously|on the prior)\b"),
    ("similar to", r"\b(?:similar|identical|comparable) (?:to|in appearance to|compared to)\s+(?:the\s+)?(?:prior|previous)"),
))
# A sentence that states there is nothing to compare with (a true statement, never a hallucination).
NO_PRIOR = re.compile(rf"\b(?:no|without|not)\s+(?:\w+\s+)?(?:{_WHEN}|comparisons?)\b|"
                      r"\b(?:not|un)available for comparison\b|\bno (?:studies|exams|films) (?:are )?available\b|"
                      r"\bnone\b\.?$|\bbaseline (?:study|exam|radiograph)\b", re.I)
# Deleted inside a sentence before deciding whether the rest still refers to a prior.
# The clause runs to the next comma; without one (R2Gen cleaning drops commas) it ends after the exam
# noun and an optional date ("of ___", "from 2 days ago" is already inside the match).
_CLAUSE = re.compile(rf"(?:^|,\s*|\s+)(?:{_COMPARED})(?:[^,.;]*?,\s*|(?:\s+(?:(?:of|from|dated|on)\s+)?(?:_{{2,}}|\d[\w/:-]*))?(?=\s|[.;]|$))",
                     re.I)
_WORDS = re.compile(r"\b(?:newly|new|again|interval(?:ly)?)\s+", re.I)
_SENT = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation followed by whitespace (reports are short, plain prose)."""
    return [s for s in _SENT.split(text.strip()) if s]


def prior_phrases(sentence: str) -> list[str]:
    """Names of the :data:`PRIOR_PATTERNS` that match one sentence; [] if it states no prior exists."""
    if NO_PRIOR.search(sentence):
        return []
    return [name for name, rx in PRIOR_PATTERNS if rx.search(sentence)]


def mentions_prior(text: str) -> bool:
    """True when any sentence of ``text`` refers to a previous examination."""
    return any(prior_phrases(s) for s in sentences(text))


@dataclass
class Rewrite:
    """What :func:`remove_priors` did to one report."""
    text: str
    clauses_removed: int = 0
    words_removed: int = 0
    sentences_dropped: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.clauses_removed or self.words_removed or self.sentences_dropped)


def _tidy(s: str, spaced: bool, lower: bool) -> str:
    """Whitespace and the edges of a shortened sentence, in the sentence's own style: R2Gen-cleaned
    targets are lowercase with a space before punctuation ("no effusion ."), raw text is not."""
    s = re.sub(r"\s+", " ", s).strip(" ,;")
    if not spaced:
        s = re.sub(r"\s+([.,;])", r"\1", s)
    if s and not lower and s[0].islower():
        s = s[0].upper() + s[1:]
    return s


def remove_priors(text: str) -> Rewrite:
    """Rewrite ``text`` without references to previous examinations (rules in the module docstring).

    Sentences without such a reference are kept byte for byte; the result is whitespace-joined.
    """
    out: list[str] = []
    rw = Rewrite(text)
    for s in sentences(text):
        if NO_PRIOR.search(s) and any(rx.search(s) for _, rx in PRIOR_PATTERNS[:2]) or \
                re.fullmatch(r"(?:no|without) (?:prior|previous|comparison)s?\b[^.]*\.?", s.strip(), re.I):
            rw.sentences_dropped += 1  # "No prior studies available for comparison." says nothing about the image
            continue
        if not prior_phrases(s):
            out.append(s)
            continue
        t, n = _CLAUSE.subn(" ", s)
        rw.clauses_removed += n
        t, n = _WORDS.subn("", t)
        rw.words_removed += n
        if n:  # "a new effusion" → "an effusion"
            t = re.sub(r"\b([Aa]) (?=[aeio])", r"\1n ", t)
        spaced, lower = bool(re.search(r"\s[.,;]", s)), s == s.lower()
        t = _tidy(t, spaced, lower)
        if not t.rstrip(".").strip() or prior_phrases(t):
            rw.sentences_dropped += 1
            continue
        out.append(t if t.endswith((".", "!", "?")) else t + (" ." if spaced else "."))
    rw.text = " ".join(out)
    return rw
