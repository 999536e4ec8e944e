"""Layered job configuration: dataclass defaults < TOML file < command-line flags.

Each job defines one frozen dataclass whose ``__post_init__`` validates values with
:class:`~mnist_edge.core.errors.UserError`. This module only merges the layers.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from typing import Any, TypeVar

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped

C = TypeVar("C")
MAX_CONFIG_BYTES = 1 << 20


def load_toml(path: str | os.PathLike[str], section: str | None = None) -> dict[str, Any]:
    """Read a TOML config file; with ``section``, use ``[section]`` if the file has one."""
    raw = read_capped(path, MAX_CONFIG_BYTES, "config file")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(
            f"config file {path} is nested too deeply to be a config file; check the --config path"
        ) from None
    if section and isinstance(data.get(section), dict):
        data = data[section]
    # TOML keys may use dashes like the flags do.
    return {key.replace("-", "_"): value for key, value in data.items()}


def build_config(
    cls: type[C], flags: dict[str, Any], config_file: str | None = None, section: str | None = None
) -> C:
    """Build ``cls`` from its defaults, then ``config_file``, then ``flags`` that are not None."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    names = set(fields)
    values: dict[str, Any] = {}
    if config_file:
        from_file = load_toml(config_file, section)
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise UserError(
                f"config file {config_file}: unknown key(s) {', '.join(unknown)}; "
                f"valid keys: {', '.join(sorted(names))}"
            )
        for key, value in from_file.items():
            _check_type(config_file, key, value, fields[key].type)
        values.update(from_file)
    values.update({k: v for k, v in flags.items() if k in names and v is not None})
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserError(f"invalid configuration: {exc}") from None


_TOML_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "None": (type(None),),
    "tuple": (list,),
    "list": (list,),
    "dict": (dict,),
}


def _check_type(config_file: str, key: str, value: Any, annotation: Any) -> None:
    """A TOML value must have the field's type: ``multi = "no"`` is an error, not True."""
    names = [part.strip().split("[")[0] for part in str(annotation).split("|")]
    allowed = tuple(t for name in names for t in _TOML_TYPES.get(name, (object,)))
    ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
    if not ok:
        wanted = " or ".join(n for n in names if n != "None") or "a value"
        raise UserError(f"config file {config_file}: {key} must be {wanted}, got {value!r}"[:300])


def require(condition: bool, message: str) -> None:
    """Validation helper for config ``__post_init__`` methods (``assert`` is not for user input)."""
    if not condition:
        raise UserError(message)


def require_int(flag: str, value: object, low: int, high: int) -> None:
    """An integer from ``low`` to ``high`` (bools are not integers here)."""
    require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        f"{flag} must be an integer from {low:,} to {high:,}, got {value!r}"[:200],
    )


def require_number(flag: str, value: object, low: float, high: float) -> None:
    """A finite number from ``low`` to ``high``."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )
    require(ok, f"{flag} must be a number from {low:g} to {high:g}, got {value!r}"[:200])
