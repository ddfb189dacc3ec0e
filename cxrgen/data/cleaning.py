"""Report cleaners, selected by ``--clean``: a registry of functions, one per convention.

- ``r2gen``: R2Gen's ``Tokenizer.clean_report_mimic_cxr`` (MIMIC-CXR, synthetic) or
  ``clean_report_iu_xray`` (IU X-ray), reproduced rule for rule from zhjohnchan/R2Gen
  ``modules/tokenizers.py`` (including its quirks: ``1. `` is deleted anywhere, the character class
  ``:-\\[`` is a range that also removes ``; < = > ? @``, and empty sentences are kept, giving ``" .  ."``).
- ``r2gengpt``: R2GenGPT's ``FieldParser.clean_report`` (github.com/wang-zhanyu/R2GenGPT,
  ``dataset/data_helper.py``), which R2GenGPT applies to the entries of R2Gen's annotation.json. For
  IU X-ray it is R2Gen's IU rule set unchanged; for MIMIC-CXR it differs from R2Gen's in two places:
  ``:`` becomes `` :`` before sentences are split, and the per-sentence character class is a plain
  list (``. , ? ; * ! % ^ & _ + ( ) [ ] { }``), so ``:``, ``-``, ``<``, ``=``, ``>`` and ``@`` are kept.
- ``lower``: the resource-efficient paper's "removed any special characters and converted all tokens
  to lowercase": lower-case; apostrophes removed; every character other than a letter, digit,
  whitespace, ``.`` or ``,`` becomes a space; whitespace collapsed.
- ``none``: whitespace collapsed only.
"""

from __future__ import annotations

import re
from typing import Callable

from cxrgen.registry import Registry

Cleaner = Callable[[str], str]
CLEANERS: Registry[Cleaner] = Registry("cleaner")

_R2GEN_CHARS = re.compile(r"[.,?;*!%^&_+():-\[\]{}]")
_ENUM = [("1. ", ""), (". 2. ", ". "), (". 3. ", ". "), (". 4. ", ". "), (". 5. ", ". "),
         (" 2. ", ". "), (" 3. ", ". "), (" 4. ", ". "), (" 5. ", ". ")]
# the exact sequences of str.replace calls R2Gen chains (order matters, each call is one pass)
_MIMIC_STEPS = ([("\n", " ")] + [("__", "_")] * 7 + [("  ", " ")] * 6 + [("..", ".")] * 8 + _ENUM)
_IU_STEPS = [("..", ".")] * 3 + _ENUM
# R2GenGPT's MIMIC variant: R2Gen's steps, then a space before every colon; a character list without ranges
_R2GENGPT_MIMIC_STEPS = _MIMIC_STEPS + [(":", " :")]
_R2GENGPT_CHARS = re.compile(r"[.,?;*!%^&_+()\[\]{}]")


def _r2gen(report: str, steps: list[tuple[str, str]], chars: re.Pattern = _R2GEN_CHARS) -> str:
    for old, new in steps:
        report = report.replace(old, new)
    sentences = report.strip().lower().split(". ")

    def sent(t: str) -> str:
        t = t.replace('"', "").replace("/", "").replace("\\", "").replace("'", "").strip().lower()
        return chars.sub("", t)
    return " . ".join(sent(s) for s in sentences) + " ."


def clean_r2gen_mimic(report: str) -> str:
    return _r2gen(report, _MIMIC_STEPS)


def clean_r2gen_iu(report: str) -> str:
    return _r2gen(report, _IU_STEPS)


def clean_r2gengpt_mimic(report: str) -> str:
    return _r2gen(report, _R2GENGPT_MIMIC_STEPS, _R2GENGPT_CHARS)


_NOT_KEPT = re.compile(r"[^a-z0-9\s.,]")


def clean_lower(report: str) -> str:
    text = report.lower().replace("'", "").replace("\u2019", "")
    return " ".join(_NOT_KEPT.sub(" ", text).split())


def clean_none(report: str) -> str:
    return " ".join(report.split())


CLEANERS.register("r2gen-mimic", clean_r2gen_mimic, "R2Gen clean_report_mimic_cxr")
CLEANERS.register("r2gen-iu", clean_r2gen_iu, "R2Gen clean_report_iu_xray")
CLEANERS.register("r2gengpt-mimic", clean_r2gengpt_mimic, "R2GenGPT clean_report (MIMIC-CXR: keeps ':')")
CLEANERS.register("r2gengpt-iu", clean_r2gen_iu, "R2GenGPT clean_report (IU X-ray: R2Gen's IU rules)")
CLEANERS.register("lower", clean_lower, "lowercase, strip special characters (resource-efficient MRG)")
CLEANERS.register("none", clean_none, "whitespace collapsed only")


def resolve_cleaner(name: str, family: str = "mimic") -> str:
    """The registry name ``--clean NAME`` means for a data set family (``mimic`` or ``iu``)."""
    return f"{name}-{family}" if name in ("r2gen", "r2gengpt") else name


def get_cleaner(name: str, family: str = "mimic") -> Cleaner:
    """``r2gen`` resolves to the rules of the data set family (``mimic`` or ``iu``)."""
    return CLEANERS.get(resolve_cleaner(name, family))
