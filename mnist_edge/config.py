"""Layered job configuration: dataclass defaults < TOML file < command-line flags.

Each job defines one frozen dataclass whose ``__post_init__`` validates values with
:class:`~mnist_edge.errors.UserError`. This module only merges the layers.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, TypeVar

from mnist_edge.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

C = TypeVar("C")


def load_toml(path: str | os.PathLike[str], section: str | None = None) -> dict[str, Any]:
    """Read a TOML config file; with ``section``, use ``[section]`` if the file has one."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise UserError(f"config file {path} not found; check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    if section and isinstance(data.get(section), dict):
        data = data[section]
    # TOML keys may use dashes like the flags do.
    return {key.replace("-", "_"): value for key, value in data.items()}


def build_config(cls: type[C], flags: dict[str, Any], config_file: str | None = None,
                 section: str | None = None) -> C:
    """Build ``cls`` from its defaults, then ``config_file``, then ``flags`` that are not None."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    if config_file:
        from_file = load_toml(config_file, section)
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise UserError(f"config file {config_file}: unknown key(s) {', '.join(unknown)}; "
                            f"valid keys: {', '.join(sorted(names))}")
        values.update(from_file)
    values.update({k: v for k, v in flags.items() if k in names and v is not None})
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserError(f"invalid configuration: {exc}") from None


def require(condition: bool, message: str) -> None:
    """Validation helper for config ``__post_init__`` methods (``assert`` is not for user input)."""
    if not condition:
        raise UserError(message)
