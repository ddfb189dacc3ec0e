"""Dataclass configs: defaults → preset YAML → ``--config`` YAML → ``key=value`` overrides.

Each stage's config is a frozen dataclass (see ``schema.py``). A field declared with
``config_field(..., runtime=True)`` (batch size, workers, device, …) is excluded from the
semantic hash, so changing it never makes an artifact stale.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import hashlib
import json
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from cxrgen.errors import ConfigError

T = TypeVar("T")


def config_field(default: Any = dataclasses.MISSING, help: str = "", *, runtime: bool = False,
                 default_factory: Any = dataclasses.MISSING, lo: float | None = None, hi: float | None = None,
                 cpus: bool = False, was: str = "") -> Any:
    """A dataclass field with a help text; ``runtime=True`` keeps it out of the fingerprint.

    ``was`` is the key's former name: still read (with a deprecation warning), and the name the
    field keeps in the semantic hash, so renaming a key does not make existing artifacts stale.

    ``lo``/``hi`` bound a number (inclusive; outside is a ConfigError naming key and range); ``cpus``
    marks a process count, capped with a warning at the CPUs available (:mod:`cxrgen.utils.resources`).
    Both are enforced where configs are built from user input (:func:`from_dict`)."""
    meta = {"help": help, "runtime": runtime, "lo": lo, "hi": hi, "cpus": cpus, "was": was}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def valid_keys(cls: type, prefix: str = "") -> list[str]:
    """Every settable dotted key of a config class, nested ones included."""
    keys = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            keys += valid_keys(tp, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def _unknown(key: str, cls: type, where: str, prefix: str = "") -> ConfigError:
    keys = valid_keys(cls, prefix)
    key = prefix + key
    # a nested key given bare (`lr=` for `optim.lr`) is the likeliest slip; else the closest spelling
    nested = [k for k in keys if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1] and k != key]
    close = nested[:1] or difflib.get_close_matches(key, keys, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"{where}: unknown config key {key!r}{hint}; valid keys: {', '.join(keys)}")


def renamed_keys(cls: type, data: dict, where: str, prefix: str = "") -> dict:
    """``data`` with former key names (``config_field(was=...)``) replaced by the current ones.

    Old YAML files, old runs' config.yaml and old key=value overrides keep working, with a warning
    that names the file and the new key; both names at once is an error (which one is meant?)."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        old = f.metadata.get("was")
        if old and old in out:
            if f.name in out:
                raise ConfigError(f"{where}: both {prefix + old!r} and {prefix + f.name!r} are set; "
                                  f"keep only {prefix + f.name!r}")
            import logging
            logging.getLogger("cxrgen.config").warning("%s: config key %r is deprecated; write %r",
                                                       where, prefix + old, prefix + f.name)
            out[f.name] = out.pop(old)
        if dataclasses.is_dataclass(hints[f.name]) and isinstance(out.get(f.name), dict):
            out[f.name] = renamed_keys(hints[f.name], out[f.name], where, f"{prefix}{f.name}.")
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp: Any, key: str, where: str = "config") -> Any:
    """Convert ``value`` (from YAML or literal_eval) to the field type ``tp`` or fail naming the key."""
    origin = get_origin(tp)
    bad = ConfigError(f"{where}: {key}={value!r} is not a valid {_type_name(tp)}")
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        if isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(value, a, key, where)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        raise ConfigError(f"{where}: {key}={value!r} is not one of {', '.join(map(repr, choices))}")
    if origin in (list, tuple):
        (item,) = get_args(tp)[:1] or (Any,)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        out = [coerce(v, item, key, where) for v in value]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise bad
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise bad
        try:
            return int(value)
        except ValueError:
            raise bad from None
    if tp is float:
        if isinstance(value, bool):
            raise bad
        try:
            out = float(value)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        if not math.isfinite(out):  # inf/nan train NaN models or silently switch features off
            raise ConfigError(f"{where}: {key}={value!r} is not a finite number; give a finite value")
        return out
    if tp is str:
        if isinstance(value, (dict, list)):
            raise bad
        return str(value)
    if tp is Path:
        return str(value)
    return value


def from_dict(cls: type[T], data: dict | None, where: str = "config", prefix: str = "") -> T:
    """Build a (nested) config dataclass, checking keys and types (``prefix``: dotted path of ``cls``)."""
    data = renamed_keys(cls, dict(data or {}), where, prefix) if not prefix else dict(data or {})
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            raise _unknown(k, cls, where, prefix)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        tp, v = hints[f.name], data[f.name]
        if dataclasses.is_dataclass(tp):
            if isinstance(v, tp):
                kwargs[f.name] = v
                continue
            if not isinstance(v, dict):
                raise ConfigError(f"{where}: {f.name} must be a mapping of {', '.join(valid_keys(tp))}")
            kwargs[f.name] = from_dict(tp, v, where=where, prefix=f"{prefix}{f.name}.")
        else:
            kwargs[f.name] = _capped(f, coerce(v, tp, prefix + f.name, where), prefix + f.name)
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None
    for f in dataclasses.fields(cls):  # after the class's own checks, whose messages are more specific
        _check_bounds(f, getattr(obj, f.name), prefix + f.name, where)
    return obj


def _capped(f: dataclasses.Field, value: Any, key: str) -> Any:
    """A process count (``cpus`` metadata) capped at the CPUs available, with a warning."""
    if f.metadata.get("cpus") and isinstance(value, int) and not isinstance(value, bool):
        from cxrgen.utils.resources import cap_workers
        return cap_workers(value, key)
    return value


def _check_bounds(f: dataclasses.Field, value: Any, key: str, where: str) -> None:
    """Apply a field's ``lo``/``hi`` metadata (see :func:`config_field`)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"≥ {lo}" if hi is None else f"≤ {hi}" if lo is None else f"in [{lo}, {hi}]"
        raise ConfigError(f"{where}: {key}={value} must be {rng}")


def to_dict(cfg: Any) -> dict:
    """Plain dict of a config (tuples become lists so YAML/JSON round-trip)."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        return v
    return conv(cfg)


def semantic_dict(cfg: Any, *, former_names: bool = False) -> dict:
    """The config without runtime-only fields: what decides an artifact's content.

    ``former_names``: renamed keys under their ``was`` name (what :func:`semantic_hash` hashes)."""
    out = {}
    for f in dataclasses.fields(cfg):
        if f.metadata.get("runtime"):
            continue
        v = getattr(cfg, f.name)
        key = (former_names and f.metadata.get("was")) or f.name
        out[key] = semantic_dict(v, former_names=former_names) if dataclasses.is_dataclass(v) else to_dict(v)
    return out


def semantic_hash(cfg: Any) -> str:
    """sha256 of :func:`semantic_dict`; a renamed key hashes under its former name, so the rename
    alone changes no artifact's fingerprint (existing runs stay up to date)."""
    blob = json.dumps(semantic_dict(cfg, former_names=True), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict:
    """``["optim.lr=1e-4", "llm=gpt2"]`` → nested dict; values parsed with literal_eval, else kept as text."""
    out: dict = {}
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. optim.lr=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip().lstrip("-")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {p!r}")
        node[parts[-1]] = value
    return out


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    for k, v in new.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# a config file is a few KB; this bounds what a mistaken path (a data file, /dev/zero) can make us read
MAX_CONFIG_BYTES = 1 << 20
# nodes after expanding YAML aliases: a "billion laughs" file stays tiny on disk but not in memory
MAX_CONFIG_NODES = 100_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML 1.2 forbids them; PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base class reports unhashable keys
            if key in seen:
                raise ConfigError(f"{self.name}: duplicate key {key!r} on lines {seen[key]} and "
                                  f"{key_node.start_mark.line + 1}; keep one")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node, memo: dict) -> int:
    """Node count of ``node`` with every alias expanded (memoised, so bombs are counted, not built)."""
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(c, memo) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(n, 1 << 62)
    return memo[id(node)]


def read_config_text(path: str | Path, what: str = "config file") -> str:
    """The UTF-8 text of a small regular file; a folder, device, huge or non-UTF-8 file is a ConfigError."""
    import stat
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{path}: is a folder; give a YAML {what}")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{path}: not a regular file (a device or pipe); give a YAML {what}")
    if st.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {st.st_size} bytes is too large for a {what} (limit {MAX_CONFIG_BYTES})")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not valid UTF-8 (byte {e.start}); save the file as UTF-8") from None


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from a config file: duplicate keys, alias bombs and non-text files are ConfigErrors."""
    path = Path(path)
    text = read_config_text(path)
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_CONFIG_NODES:
            raise ConfigError(f"{path}: expands to more than {MAX_CONFIG_NODES} values through YAML aliases "
                              "(an alias bomb?); write the values out")
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply or recursive through YAML aliases") from None
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping of keys, got {type(data).__name__}")
    return data


def load_config(cls: type[T], *layers: dict | str | Path | None, overrides: list[str] | tuple = (),
                where: str = "config") -> T:
    """Merge layers in order (dicts or YAML paths; ``None`` skipped), then ``key=value`` overrides.

    Every layer is validated against ``cls`` so an unknown key is reported with the file it came from.
    """
    merged: dict = {}
    for layer in layers:
        if layer is None:
            continue
        data, src = (layer, where) if isinstance(layer, dict) else (read_yaml(layer), str(layer))
        data = renamed_keys(cls, data, src)  # here, so a layer's old key warns once and merges as the new one
        from_dict(cls, _merge(merged, data), where=src)  # validate this layer with its own name
        merged = _merge(merged, data)
    if overrides:
        merged = _merge(merged, renamed_keys(cls, parse_overrides(overrides), "override"))
        return from_dict(cls, merged, where="override")
    return from_dict(cls, merged, where=where)


def field_help(cls: type) -> dict[str, str]:
    """Dotted key → help text, for `--help` epilogs and docs."""
    out = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update({f"{f.name}.{k}": v for k, v in field_help(tp).items()})
        else:
            out[f.name] = f.metadata.get("help", "")
    return out
