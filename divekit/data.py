"""Clips in memory at the model's working resolution, with their times and backgrounds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from divekit.background import background_path, estimate_background, load_png
from divekit.errors import DivekitError
from divekit.framing import Framing
from divekit.steady import camera_path, show_unseen_as
from divekit.video import VideoReader, framing_for

MIN_FRAMES = 4  # a gravity quad needs four frames


@dataclass
class Clip:
    """One video decoded at the working size: frames (N, H, W, 3) uint8, times (N,) seconds."""

    name: str
    path: Path
    frames: np.ndarray
    times: np.ndarray
    background: np.ndarray  # (H, W, 3) uint8, the empty scene at the working size
    framing: Framing  # where the working frames are in the video's (its ``source`` the file's size)
    background_source: str  # the PNG it came from, or "estimated (<method>)"

    def __len__(self) -> int:
        return len(self.times)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the working frames."""
        return self.frames.shape[2], self.frames.shape[1]

    @property
    def source_size(self) -> tuple[int, int]:
        """(width, height) of the video file."""
        return self.framing.source


def find_background(reader: VideoReader, video: Path, background_dir: Path | None = None) -> tuple[np.ndarray, str]:
    """The empty scene in the reader's working frame, and where it came from.

    ``<stem>.background.png`` (beside the video, or in ``background_dir``) when it exists, after
    checking it has the video's size; otherwise estimated from the clip (``divekit background``'s
    auto rule).
    """
    source = (reader.info.source_width, reader.info.source_height)
    png = background_path(video, background_dir)
    if png.exists():
        image = load_png(png)
        if (image.shape[1], image.shape[0]) != source:
            size = f"{image.shape[1]}x{image.shape[0]}"
            raise DivekitError(f"background {png} is {size} but {Path(video).name} is {source[0]}x{source[1]}")
        return reader.info.framing.apply(image), str(png)
    background, method = estimate_background(reader, "auto")
    return background, f"estimated ({method})"


def load_clip(
    video: Path,
    frame_size: tuple[int, int],
    *,
    background_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Clip:
    """Decode a whole clip at ``frame_size`` (width, height), undistorted (:func:`divekit.video.framing_for`),
    and find its background.

    The background is ``<stem>.background.png`` (beside the video, or in ``background_dir``)
    when it exists, otherwise it is estimated (``divekit background``'s auto rule). From a camera
    that moved, every frame is held still (:mod:`divekit.steady`).
    """
    camera = camera_path(video)
    reader = VideoReader(video, framing=framing_for(video, tuple(frame_size), camera), shifts=camera)
    if len(reader) < MIN_FRAMES:
        raise DivekitError(f"{video} has {len(reader)} frames; at least {MIN_FRAMES} are needed")
    background, origin = find_background(reader, video, background_dir)
    frames = np.empty((len(reader), reader.info.height, reader.info.width, 3), dtype=np.uint8)
    for idx, batch, _ in reader.iter_batches(64):
        if camera is not None:
            show_unseen_as(background, batch, [reader.seen_region(k) for k in idx])
        frames[idx] = batch
        if progress:
            progress(int(idx[-1]) + 1, len(reader))
    return Clip(
        name=Path(video).stem,
        path=Path(video),
        frames=frames,
        times=reader.timestamps,
        background=background,
        framing=reader.info.framing,
        background_source=origin,
    )


def check_memory(videos: list[Path], frame_size: tuple[int, int], limit_gb: float) -> int:
    """Bytes the decoded clips will take; raises if that exceeds ``limit_gb``."""
    total = 0
    for video in videos:
        total += len(VideoReader(video)) * frame_size[0] * frame_size[1] * 3
    if total > limit_gb * 2**30:
        raise DivekitError(
            f"the inputs need {total / 2**30:.1f} GB decoded at {frame_size[0]}x{frame_size[1]}; "
            f"the limit is {limit_gb:g} GB (raise --memory-gb or pass fewer videos)"
        )
    return total
