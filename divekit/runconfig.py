"""A run's settings from a TOML file: sections [model], [loss], [train], [gravity], [selfsup], [pose].

Unknown sections or keys are errors (a typo must not silently train with a default), e.g.

    [model]
    crop_size = 64
    [train]
    batch = 4
"""

from __future__ import annotations

import math
import tomllib
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

from divekit.errors import DivekitError

SECTIONS = ("model", "loss", "train", "gravity", "selfsup", "pose")


def read_toml(path: Path) -> dict[str, dict[str, Any]]:
    """Parse and check the section names of a config file; values are checked by :func:`build`."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise DivekitError(f"no such config file: {path}") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise DivekitError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DivekitError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise DivekitError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in SECTIONS:
            name = key if key.isidentifier() else repr(key)  # a name with a line break stays on one line
            raise DivekitError(f"unknown section [{name}] in {path}; allowed: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise DivekitError(f"{key} in {path} must be a [{key}] table")
    return data


def _fits(value: Any, hint: Any) -> bool:
    """Whether a TOML value (lists already made tuples) has the dataclass field's annotated type."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return len(value) > 0 and all(_fits(v, args[0]) for v in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args, strict=True))
    return True  # a type this loader does not know: the dataclass checks it


def _describe(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def build(cls: type, values: dict[str, Any], *, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, naming any unknown key, mistyped value and ``where``."""
    names = {f.name: f for f in fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in names:
            raise DivekitError(f"unknown key {key!r} in {where}; known: {', '.join(sorted(names))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    for key, value in kwargs.items():
        if not _fits(value, hints[key]):
            raise DivekitError(f"{key} in {where} must be {_describe(hints[key])}, got {value!r}"[:300])
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise DivekitError(f"bad value in {where}: {exc}"[:300]) from None
