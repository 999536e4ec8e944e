"""Layered job configuration: dataclass defaults < TOML file < command-line flags.

Each job defines one frozen dataclass whose ``__post_init__`` validates values with
:class:`~mnist_edge.core.errors.UserError`. This module only merges the layers.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import os
import tomllib
from collections.abc import Iterable
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
        loose = sorted(k for k, v in data.items() if not isinstance(v, dict))
        if loose:  # read neither silently nor as well: say where they belong
            raise UserError(
                f"config file {path}: {', '.join(loose)[:120]} outside its [{section}] table "
                f"would be ignored; move them into [{section}]"
            )
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
    """An integer (numpy's too) from ``low`` to ``high`` (bools are not integers here)."""
    require(
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and low <= value <= high,
        f"{flag} must be an integer from {low:,} to {high:,}, got {value!r}"[:200],
    )


def require_number(flag: str, value: object, low: float, high: float) -> None:
    """A finite number from ``low`` to ``high``."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (isinstance(value, int) or math.isfinite(value))  # a huge int is finite, not a float
        and low <= value <= high
    )
    require(ok, f"{flag} must be a number from {low:g} to {high:g}, got {value!r}"[:200])


# ---- options declared once: a config field carries its help; flags are generated from it

CONFIG_HELP = "TOML file with any of these options; flags win"
DATA_DIR_HELP = "folder with the MNIST IDX files (or $MNIST_EDGE_DATA; downloaded when absent)"


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    metavar: str | None = None,
    default_text: str | None = None,
    comma: bool = False,
    nargs: str | None = None,
    flag: bool = True,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A config field with what its flag needs: ``help``; ``default_text`` replaces the
    generated "(default ...)" (``""``: none); ``comma``: the flag takes one comma-separated
    value; ``flag=False``: settable from a TOML file only."""
    meta = {
        "help": help,
        "metavar": metavar,
        "default_text": default_text,
        "comma": comma,
        "nargs": nargs,
        "flag": flag,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


FORCE_HELP = "replace an existing output file (never a file this run reads, never drawings)"


def force_option() -> Any:
    """``--force`` for a command that writes a file: declared here once, for every tool."""
    return option(False, FORCE_HELP)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _shown(value: Any) -> str | None:
    if value is None or value is False or value == () or value == {}:
        return None
    if value is True:
        return "on"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    names: Iterable[str] | None = None,
    defaults: dict[str, Any] | None = None,
    config_flag: bool = True,
) -> None:
    """Flags for the fields of ``cls`` (or only ``names``), from their :func:`option` metadata.

    Every flag defaults to None so that :func:`build_config` can tell "not given" from a value
    and let the TOML file and the dataclass fill in; ``defaults`` are the defaults to show when
    another config passes these fields through with defaults of its own (the pipeline)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("flag", False)}
    wanted = list(fields) if names is None else list(names)
    for name in wanted:
        f = fields[name]
        meta = f.metadata
        default = (defaults or {}).get(name, _default_of(f))
        text = meta["default_text"]
        if text is None:
            text = _shown(default)
        help_text = meta["help"] + (f" (default {text})" if text else "")
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        annotation = str(f.type).replace(" ", "")
        if annotation.startswith("bool"):
            if default is True or "None" in annotation:
                kwargs["action"] = argparse.BooleanOptionalAction
            else:
                kwargs["action"] = "store_true"
        elif annotation.startswith(("tuple", "list", "dict")) and not meta["comma"]:
            if meta["nargs"]:
                kwargs["nargs"] = meta["nargs"]
            else:
                kwargs["action"] = "append"
        elif annotation.startswith("int"):
            kwargs["type"] = int
        elif annotation.startswith("float"):
            kwargs["type"] = float
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)
    if config_flag:
        parser.add_argument("--config", help=CONFIG_HELP)


def option_names(cls: type) -> list[str]:
    """The fields of ``cls`` that have a flag."""
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("flag", False)]


def passed(cls: type, name: str, default: Any = dataclasses.MISSING, **changes: Any) -> Any:
    """A field that another job's config declares, passed through (the pipeline gives train's
    and bench's options): its help and flag come from there; ``default`` may differ."""
    source = next(f for f in dataclasses.fields(cls) if f.name == name)
    meta = {**source.metadata, **changes}
    if default is not dataclasses.MISSING:
        return dataclasses.field(default=default, metadata=meta)
    if source.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=source.default_factory, metadata=meta)
    return dataclasses.field(default=source.default, metadata=meta)


def split_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """A comma-separated flag (or a TOML list of them) as its items."""
    if value is None:
        return ()
    items = (
        value.split(",")
        if isinstance(value, str)
        else [part for item in value for part in str(item).split(",")]
    )
    return tuple(item.strip() for item in items if item.strip())


def int_list(
    value: str | list[int] | tuple[int, ...] | None, flag: str, default: tuple[int, ...]
) -> tuple[int, ...]:
    """A comma-separated flag of positive integers; one-line error otherwise."""
    if value is None:
        return default
    try:
        numbers = tuple(
            int(v) for v in split_list(value if isinstance(value, str) else [str(v) for v in value])
        )
    except ValueError:
        raise UserError(f"{flag} takes comma-separated positive integers, got {value!r}") from None
    require(
        bool(numbers) and all(n > 0 for n in numbers),
        f"{flag} takes comma-separated positive integers, got {value!r}",
    )
    return numbers
