"""Reference truncation as R2GenGPT's released code does it (wang-zhanyu/R2GenGPT, ``dataset/data_helper.py``
and ``models/R2GenGPT.py``: the reference is tokenized by the LLM's tokenizer with ``truncation=True,
max_length=max_length`` — 60 on IU X-ray, 100 on MIMIC-CXR — and decoded again before scoring).

The count includes the special tokens the tokenizer adds (Llama's BOS), as the released code's does.
A reference that fits is kept byte for byte (decoding would only re-space it); one that does not is
replaced by the decoding of the tokenizer's own truncation to ``max_tokens`` ids, special tokens skipped.
"""

from __future__ import annotations

from typing import Any


def truncate_references(refs: list[str], tokenizer: Any, max_tokens: int) -> tuple[list[str], int]:
    """(references cut to ``max_tokens`` tokens of ``tokenizer``, how many were cut). ``max_tokens`` ≥ 1."""
    out, cut = [], 0
    for text in refs:
        if len(tokenizer(text, add_special_tokens=True)["input_ids"]) <= max_tokens:
            out.append(text)
            continue
        ids = tokenizer(text, add_special_tokens=True, truncation=True, max_length=max_tokens)["input_ids"]
        out.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
        cut += 1
    return out, cut
