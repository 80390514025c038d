"""Running a trained DiveNet over whole clips: boxes per frame, as tensors and as a DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from divekit.data import Clip

BOX_COLUMNS = ["video", "frame", "time_s", "box_cx", "box_cy", "box_w", "box_h"]


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def predict_boxes(model: torch.nn.Module, clip: Clip, *, batch: int = 64) -> np.ndarray:
    """(N, 4) boxes (s_x, s_y, u_x, u_y) in affine_grid units for every frame of ``clip``."""
    was_training = model.training
    model.eval()
    background = frames_to_tensor(clip.background[None])
    out = []
    for lo in range(0, len(clip), batch):
        frames = frames_to_tensor(clip.frames[lo : lo + batch])
        out.append(model.detect(frames, background.expand(len(frames), -1, -1, -1)))
    model.train(was_training)
    return torch.cat(out).numpy().astype(np.float64)


def boxes_to_pixels(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, 4) affine_grid boxes -> (N, 4) cx, cy, w, h in pixels of a frame of ``size`` (width, height)."""
    w, h = size
    sx, sy, ux, uy = boxes.T
    return np.stack([(ux + 1) * w / 2, (uy + 1) * h / 2, sx * w, sy * h], axis=1)


def pixels_to_boxes(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`boxes_to_pixels`: (N, 4) cx, cy, w, h pixels -> (N, 4) affine_grid boxes."""
    w, h = size
    cx, cy, bw, bh = pixels.T
    return np.stack([bw / w, bh / h, 2 * cx / w - 1, 2 * cy / h - 1], axis=1)


def boxes_dataframe(clip: Clip, boxes: np.ndarray) -> pd.DataFrame:
    """One row per frame: the box in the video's own pixels (``BOX_COLUMNS``)."""
    px = clip.framing.boxes_to_source(boxes_to_pixels(boxes, clip.size))
    return pd.DataFrame(
        {
            "video": clip.path.name,
            "frame": np.arange(len(clip)),
            "time_s": clip.times,
            "box_cx": px[:, 0],
            "box_cy": px[:, 1],
            "box_w": px[:, 2],
            "box_h": px[:, 3],
        },
        columns=BOX_COLUMNS,
    )
