"""Paper-specific scoring conventions that differ from coco-caption, computed with the papers' own libraries.

``llama-xr``: LLaMA-XR (Jahangir, Kabir, Akter, Jahan & Chau 2025, §3.6 and Table 3; the released
notebook ``LlamaXR.ipynb`` of github.com/zihadbinjahangir/LLaMA-XR) scores each report on its own and
averages over reports:

* report pairs whose reference *or* prediction contains "XXXX" (IU's de-identification mark, any
  case) are dropped first;
* tokens are ``str.split()`` (whitespace), case and punctuation kept;
* BLEU-n: ``nltk.translate.bleu_score.sentence_bleu`` with ``SmoothingFunction().method1`` and the
  notebook's weights (1,0,0,0), (0.5,0.5,0,0), (0.33,0.33,0.33,0), (0.25,0.25,0.25,0.25);
* ROUGE-L: ``rouge_score.rouge_scorer.RougeScorer(['rougeL'], use_stemmer=True)`` F-measure of
  ``score(reference, prediction)`` on the raw strings;
* METEOR: ``nltk.translate.meteor_score.meteor_score([reference tokens], prediction tokens)`` with
  NLTK's defaults (needs NLTK's WordNet data, which cannot be fetched offline: a missing copy is a
  one-line :class:`DependencyError` saying how to install it).

The libraries are the optional extra ``cxrgen[paper-metrics]`` (nltk, rouge-score).
"""

from __future__ import annotations

import numpy as np

from cxrgen.errors import DependencyError

CONVENTIONS = ("coco", "llama-xr")
GROUPS = ("bleu", "meteor", "rouge_l")       # what the llama-xr convention computes itself
MARK = "xxxx"
# LlamaXR.ipynb's sentence_bleu weights (BLEU-3 uses 0.33, not 1/3)
BLEU_WEIGHTS = ((1.0, 0.0, 0.0, 0.0), (0.5, 0.5, 0.0, 0.0), (0.33, 0.33, 0.33, 0.0), (0.25, 0.25, 0.25, 0.25))
INSTALL = "pip install 'cxrgen[paper-metrics]' (nltk, rouge-score)"
WORDNET = ("METEOR of the llama-xr convention needs NLTK's WordNet data, which cxrgen never downloads: on a "
           "machine with network access run `python -m nltk.downloader -d ~/nltk_data wordnet` and copy "
           "~/nltk_data here (or set NLTK_DATA), or leave METEOR out with --metrics bleu,rouge_l")


def keep(hyps: list[str], refs: list[str]) -> list[bool]:
    """True for each pair the llama-xr convention scores (neither text contains "XXXX", any case)."""
    return [MARK not in h.lower() and MARK not in r.lower() for h, r in zip(hyps, refs)]


def require(groups: list[str]) -> None:
    """Raise a one-line DependencyError before any work when a library or NLTK data is missing."""
    want = [g for g in groups if g in GROUPS]
    try:
        if want:
            import nltk  # noqa: F401
        if "rouge_l" in want:
            import rouge_score  # noqa: F401
    except ImportError as e:
        raise DependencyError(f"--convention llama-xr needs {e.name}: {INSTALL}") from None
    if "meteor" in want:
        import nltk
        try:
            nltk.data.find("corpora/wordnet")
        except LookupError:
            try:
                nltk.data.find("corpora/wordnet.zip")
            except LookupError:
                raise DependencyError(WORDNET) from None


def per_report(hyps: list[str], refs: list[str], groups: list[str]) -> dict[str, np.ndarray]:
    """Per-report values (N,) of bleu_1..bleu_4, rouge_l and meteor for the requested groups.

    Raises DependencyError (see :func:`require`). The corpus value of each metric is the plain mean.
    """
    require(groups)
    out: dict[str, np.ndarray] = {}
    ref_tok = [r.split() for r in refs]
    hyp_tok = [h.split() for h in hyps]
    if "bleu" in groups:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
        smooth = SmoothingFunction().method1
        for n, w in enumerate(BLEU_WEIGHTS, 1):
            out[f"bleu_{n}"] = np.array([sentence_bleu([r], h, weights=w, smoothing_function=smooth)
                                         for r, h in zip(ref_tok, hyp_tok)], dtype=np.float64)
    if "rouge_l" in groups:
        from rouge_score import rouge_scorer
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
        out["rouge_l"] = np.array([scorer.score(r, h)["rougeL"].fmeasure for r, h in zip(refs, hyps)],
                                  dtype=np.float64)
    if "meteor" in groups:
        from nltk.translate.meteor_score import meteor_score
        out["meteor"] = np.array([meteor_score([r], h) for r, h in zip(ref_tok, hyp_tok)], dtype=np.float64)
    return out


def describe() -> dict[str, str]:
    return {
        "drop": "pairs whose reference or prediction contains 'XXXX' (any case) are dropped first",
        "bleu": "mean over reports of NLTK sentence_bleu, whitespace tokens, SmoothingFunction().method1, "
                "weights (1,0,0,0) (.5,.5,0,0) (.33,.33,.33,0) (.25,.25,.25,.25)",
        "rouge_l": "mean over reports of rouge_score ROUGE-L F-measure with the Porter stemmer",
        "meteor": "mean over reports of NLTK meteor_score on whitespace tokens (WordNet synonyms)",
    }
