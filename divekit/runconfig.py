"""A run's settings from a TOML file: sections [model], [loss], [train], [gravity], [selfsup], [pose].

Unknown sections or keys are errors (a typo must not silently train with a default), e.g.

    [model]
    crop_size = 64
    [train]
    batch = 4
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from divekit.errors import DivekitError

SECTIONS = ("model", "loss", "train", "gravity", "selfsup", "pose")


def read_toml(path: Path) -> dict[str, dict[str, Any]]:
    """Parse and check the section names of a config file; values are checked by the dataclasses."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise DivekitError(f"no such config file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DivekitError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in data.items():
        if key not in SECTIONS:
            raise DivekitError(f"unknown section [{key}] in {path}; allowed: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise DivekitError(f"{key} in {path} must be a [{key}] table")
    return data


def build(cls: type, values: dict[str, Any], *, where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``values``, naming any unknown key and ``where`` it was."""
    names = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in names:
            raise DivekitError(f"unknown key {key!r} in {where}; known: {', '.join(sorted(names))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DivekitError(f"bad value in {where}: {exc}") from None
