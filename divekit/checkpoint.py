"""Checkpoints: plain tensors and JSON, loaded without ever executing pickled code.

A checkpoint is one file written by ``torch.save`` holding only tensors, numbers, strings, lists
and dicts. It is read with ``torch.load(weights_only=True)``, whose unpickler refuses anything
else, so a file from a stranger cannot run code. The model and loss configs travel inside as
JSON text, with a format version checked on load.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from divekit.errors import DivekitError
from divekit.io import atomic_path

FORMAT = "divekit-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def resolve(path: Path) -> Path:
    """A run folder means its checkpoint file."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def save_checkpoint(path: Path, *, config: dict[str, Any], state: dict[str, Any]) -> None:
    """Write ``state`` (tensors and plain values) with ``config`` (JSON-able) atomically."""
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "config": json.dumps(config), **state}
    with atomic_path(Path(path)) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (config, state) of a checkpoint; one-line DivekitError for anything else."""
    path = resolve(path)
    if not path.exists():
        raise DivekitError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"unsupported global\s+\S+", str(exc), flags=re.IGNORECASE)
        if unsafe is None:
            raise DivekitError(f"{path} is not a divekit checkpoint (unreadable)") from None
        raise DivekitError(
            f"refusing to load {path}: it holds code, not just tensors and plain values ({unsafe.group(0)})"
        ) from None
    except Exception as exc:
        raise DivekitError(f"{path} is not a divekit checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DivekitError(f"{path} is not a divekit checkpoint")
    if payload.get("version") != FORMAT_VERSION:
        raise DivekitError(
            f"{path} is a divekit checkpoint of format version {payload.get('version')}; "
            f"this divekit reads version {FORMAT_VERSION}"
        )
    config = json.loads(payload.pop("config"))
    return config, payload
