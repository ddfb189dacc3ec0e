"""Image encoders for `cxrgen embed`: one module per family, registered in ``cxrgen.models.catalog.ENCODERS``.

``load_encoder(name, weights)`` resolves a registry name and returns an :class:`~.base.Encoder`
(model + preprocessing + output shape + weight provenance).
"""

from __future__ import annotations

from cxrgen.models.encoders.base import Encoder


def load_encoder(name: str, weights: str = "", *, load_weights: bool = True) -> Encoder:
    from cxrgen.models.catalog import ENCODERS
    entry = ENCODERS.get(name)
    return entry.load()(name, dict(entry.info), weights=weights, load_weights=load_weights)


__all__ = ["Encoder", "load_encoder"]
