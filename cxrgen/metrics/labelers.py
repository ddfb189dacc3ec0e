"""CheXpert-14 labelers behind one interface: ``name`` (recorded in scores.json) and ``label_many(texts)``.

* ``rules``: cxrgen's rule-based labeler (:mod:`cxrgen.metrics.chexpert`); offline, no weights.
* ``chexbert``: the released CheXbert checkpoint (:mod:`cxrgen.metrics.chexbert`), from local files only.

Both return, per report, {class: 1 | 0 | -1 | None} for the 14 classes in ``chexpert.CLASSES`` order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from cxrgen.errors import ConfigError
from cxrgen.registry import Registry

# bumped whenever the rules change what they output (issue 13: coordinated subjects, far uncertainty, sites)
RULES_NAME = "cxrgen-rules-2"


@dataclass(frozen=True)
class LabelerSpec:
    kind: str
    weights: str = ""      # chexbert: chexbert.pth, or a folder holding it
    tokenizer: str = ""    # chexbert: a folder with the bert-base-uncased vocab.txt / tokenizer files
    device: str = "auto"
    batch_size: int = 16


class RulesLabeler:
    name = RULES_NAME + " (rule-based CheXpert-style; not the Stanford CheXpert/CheXbert labeler)"

    def __init__(self, spec: LabelerSpec):
        if spec.weights or spec.tokenizer:
            raise ConfigError("--labeler-weights / --tokenizer belong to --labeler chexbert; "
                              "the rule-based labeler needs no weights")
        from cxrgen.metrics.chexpert import default_labeler
        self._lab = default_labeler()

    def label_many(self, texts: Iterable[str]) -> list[dict[str, Optional[int]]]:
        return self._lab.label_many(texts)


def _chexbert(spec: LabelerSpec) -> Any:
    from cxrgen.metrics.chexbert import CheXbertLabeler
    return CheXbertLabeler.from_files(spec.weights, spec.tokenizer, device=spec.device, batch_size=spec.batch_size)


LABELERS: Registry = Registry("labeler")
LABELERS.register("rules", RulesLabeler, "cxrgen's rule-based CheXpert-14 labeler (offline, no weights)")
LABELERS.register("chexbert", _chexbert, "CheXbert (Smit et al. 2020) from a local chexbert.pth + BERT tokenizer")


def make_labeler(spec: LabelerSpec) -> Any:
    """A labeler for ``spec.kind``; ConfigError for an unknown kind or missing/ill-formed weights."""
    return LABELERS.get(spec.kind)(spec)


def check_chexbert_files(weights: str, tokenizer: str) -> Path:
    """The weight file CheXbert would load, and the ConfigError it would raise about its files, without
    loading anything (dry runs): :func:`cxrgen.metrics.chexbert.check_files`."""
    from cxrgen.metrics.chexbert import check_files
    return check_files(weights, tokenizer)[0]
