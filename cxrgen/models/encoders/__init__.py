"""Image encoders for `cxrgen embed`: one module per family, registered in ``cxrgen.models.catalog.ENCODERS``.

``load_encoder(name, weights)`` resolves a registry name and returns an :class:`~.base.Encoder`
(model + preprocessing + output shape + weight provenance).
"""

from __future__ import annotations

from cxrgen.models.encoders.base import Encoder


def load_encoder(name: str, weights: str = "", *, load_weights: bool = True, allow_random: bool = True) -> Encoder:
    """Build encoder ``name``; with ``allow_random=False`` a real (non ``tiny-*``) encoder that ends up
    with random weights (no --encoder-weights and no default source) is a ConfigError: its features would be
    noise committed as a finished artifact."""
    from cxrgen.errors import ConfigError
    from cxrgen.models.catalog import ENCODERS
    entry = ENCODERS.get(name)
    enc = entry.load()(name, dict(entry.info), weights=weights, load_weights=load_weights)
    if load_weights and not allow_random and not entry.info.get("tiny") and enc.weights_source == "random-init":
        raise ConfigError(f"encoder {name!r} has no weights (give --encoder-weights FILE|DIR); its features would come "
                          "from random weights; add --allow-random-weights if that is what you want")
    return enc


__all__ = ["Encoder", "load_encoder"]
