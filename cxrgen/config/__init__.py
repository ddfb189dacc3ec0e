"""Typed configs: dataclasses ↔ YAML, ``key=value`` overrides, semantic hashes. Imports only yaml."""

from cxrgen.config.base import (
    config_field,
    from_dict,
    load_config,
    parse_overrides,
    semantic_dict,
    semantic_hash,
    to_dict,
    to_yaml,
)

__all__ = ["config_field", "from_dict", "load_config", "parse_overrides", "semantic_dict",
           "semantic_hash", "to_dict", "to_yaml"]
