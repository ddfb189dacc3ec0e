"""The one seed of tiny random models (tiny-* LLMs and encoders).

Tiny models' frozen weights are rebuilt from this seed, never saved, so a run trained with them
loads again bit for bit; changing it changes every tiny model (and the demo's numbers).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

TINY_SEED = 1234


@contextlib.contextmanager
def seeded(seed: int = TINY_SEED) -> Iterator[None]:
    """Deterministic random init without touching the caller's global RNG state."""
    import torch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
