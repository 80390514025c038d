"""Background estimation for a static camera (paper S.1, "Background Estimation").

Two estimators and a rule to choose between them:

* ``median``: the per-pixel temporal median over frames sampled evenly in time (paper S.1,
  H36M/MPI). Correct wherever the background is visible in more than half of the samples.
* ``split``: the bottom half of the first frame over the top half of the last (paper S.1,
  Diving): the diver starts high in the frame and ends under the water.
* ``auto``: ``median`` when at least ``MIN_MEDIAN_FRAMES`` frames can be sampled, else ``split``
  (a median of a handful of frames keeps whatever stood still in most of them).

Memory is bounded: at most ``memory_mb`` of sampled frames is held, and the median is taken
strip by strip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from divekit.errors import DivekitError
from divekit.video import VideoReader

METHODS = ("median", "split", "auto")
MIN_MEDIAN_FRAMES = 15
DEFAULT_MAX_FRAMES = 64
DEFAULT_MEMORY_MB = 256
_STRIP_ROWS = 32

Progress = Callable[[int, int], None]


def choose_method(frame_count: int) -> str:
    """The ``auto`` rule: median when enough frames can be sampled, otherwise split."""
    return "median" if frame_count >= MIN_MEDIAN_FRAMES else "split"


def median_frame_budget(width: int, height: int, max_frames: int, memory_mb: float) -> int:
    """How many full frames fit in the memory budget (never fewer than 3, never more than asked)."""
    per_frame = width * height * 3
    return int(max(3, min(max_frames, (memory_mb * 2**20) // per_frame)))


def median_background(
    reader: VideoReader,
    *,
    max_frames: int = DEFAULT_MAX_FRAMES,
    memory_mb: float = DEFAULT_MEMORY_MB,
    progress: Progress | None = None,
) -> np.ndarray:
    """Per-pixel temporal median of frames sampled evenly in time: (H, W, 3) uint8."""
    info = reader.info
    k = median_frame_budget(info.width, info.height, max_frames, memory_mb)
    idx = reader.sample_evenly(k)
    stack = np.empty((len(idx), info.height, info.width, 3), dtype=np.uint8)
    for i, frame_index in enumerate(idx):
        stack[i] = reader.read([frame_index])[0]
        if progress:
            progress(i + 1, len(idx))
    out = np.empty((info.height, info.width, 3), dtype=np.uint8)
    for r0 in range(0, info.height, _STRIP_ROWS):
        strip = np.median(stack[:, r0 : r0 + _STRIP_ROWS], axis=0)
        out[r0 : r0 + _STRIP_ROWS] = np.rint(strip).astype(np.uint8)
    return out


def split_background(reader: VideoReader, *, progress: Progress | None = None) -> np.ndarray:
    """Bottom half of the first frame over the top half of the last: (H, W, 3) uint8."""
    first, last = reader.read([0, len(reader) - 1])
    half = reader.info.height // 2
    out = np.concatenate([last[:half], first[half:]], axis=0)
    if progress:
        progress(2, 2)
    return out


def estimate_background(
    reader: VideoReader,
    method: str = "auto",
    *,
    max_frames: int = DEFAULT_MAX_FRAMES,
    memory_mb: float = DEFAULT_MEMORY_MB,
    progress: Progress | None = None,
) -> tuple[np.ndarray, str]:
    """Estimate the empty scene of one video; returns the image and the method actually used."""
    if method not in METHODS:
        raise DivekitError(f"unknown background method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "auto":
        method = choose_method(len(reader))
    if method == "median":
        image = median_background(reader, max_frames=max_frames, memory_mb=memory_mb, progress=progress)
    else:
        image = split_background(reader, progress=progress)
    return image, method


def background_path(video: Path, out_dir: Path | None = None) -> Path:
    """Where the background of ``video`` lives: ``<stem>.background.png`` beside it or in ``out_dir``."""
    video = Path(video)
    return (Path(out_dir) if out_dir else video.parent) / f"{video.stem}.background.png"


def save_png(image: np.ndarray, path: Path) -> None:
    """Write an (H, W, 3) uint8 image as PNG atomically."""
    from PIL import Image

    from divekit.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def load_png(path: Path) -> np.ndarray:
    """Read an RGB PNG as (H, W, 3) uint8."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except FileNotFoundError:
        raise DivekitError(f"no such image: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DivekitError(f"cannot read image {path}: {exc}") from None


def mean_absolute_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in 0-255 over all pixels and channels."""
    if a.shape != b.shape:
        raise DivekitError(f"image sizes differ: {a.shape} vs {b.shape}")
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())
