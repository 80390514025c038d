"""Reading the ground truth that ``divekit synth`` writes beside each clip, for benchmarks and tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

BOX_PAD_M = 0.12  # joints are centres of limbs: pad the joint box by about the head/trunk half-thickness


def clip_meta(video: Path) -> dict:
    """The ``<clip>.json`` beside a synthetic clip."""
    return json.loads(Path(video).with_suffix(".json").read_text())


def truth_boxes(video: Path, pad_m: float = BOX_PAD_M) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) cx, cy, w, h ground-truth boxes in pixels and (N,) in-flight flags of a synthetic clip.

    The box is the tight box around the projected joints, padded on every side by ``pad_m`` metres
    at the dive plane (the clip's metres per pixel).
    """
    video = Path(video)
    meta = clip_meta(video)
    truth = pd.read_csv(video.with_name(f"{video.stem}.truth.csv"))
    g = truth.groupby("frame")
    u0, u1, v0, v1 = (s.to_numpy() for s in (g["u"].min(), g["u"].max(), g["v"].min(), g["v"].max()))
    pad = pad_m / meta["metres_per_pixel"]
    boxes = np.stack([(u0 + u1) / 2, (v0 + v1) / 2, u1 - u0 + 2 * pad, v1 - v0 + 2 * pad], axis=1)
    return boxes, np.asarray(meta["in_flight"], dtype=bool)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of (N, 4) boxes given as cx, cy, w, h."""
    assert a.shape == b.shape and a.shape[-1] == 4, (a.shape, b.shape)
    lo = np.maximum(a[:, :2] - a[:, 2:] / 2, b[:, :2] - b[:, 2:] / 2)
    hi = np.minimum(a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2)
    inter = np.clip(hi - lo, 0, None).prod(axis=1)
    return inter / (a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - inter)
