"""Where the model's working frame comes from in a video's frame, and back.

The model works on frames of one size (``[model] frame_size``, portrait 256x512 by default). A
video of another aspect, a landscape 1920x1080 phone clip, cannot be stretched into it: every
angle on the picture would turn (the somersault count is read from the silhouette's long axis,
and the pose model has only seen undistorted divers). So the frame is scaled without distortion,
to the working height, and a window of the working width is cut from it: the whole height of a
landscape clip and a part of its width, where the video moves most (:func:`busiest_window`). A
video taller than the working aspect is never cut along its height, where a dive runs from the
board to the water: it is scaled to the working height and grey bars fill the width beside it. A
video that has the working aspect is scaled whole, as it always was.

Coordinates are pixels with (0, 0) the top-left corner of the top-left pixel; boxes are (N, 4)
cx, cy, w, h. Pure numpy; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A video whose aspect is within this fraction of the working size's is scaled to it as it is: the
# picture turns by at most a degree (and a 254x512 or 1080x2160 video loses no edge to a cut).
ASPECT_TOLERANCE = 0.02
BAR_GREY = 128  # the bars beside a video narrower than the working frame (the background has them too)


@dataclass(frozen=True)
class Framing:
    """The working frame of a video of ``source`` (width, height): the (upright) frame scaled to
    ``scaled`` (width, height), and the ``size`` (width, height) window at ``offset`` (x, y) of it.
    A negative x offset is a grey bar of that width on each side of a frame narrower than the window
    (:data:`BAR_GREY`)."""

    source: tuple[int, int]
    scaled: tuple[int, int]
    offset: tuple[int, int]
    size: tuple[int, int]

    def __post_init__(self) -> None:
        (w, h), (fw, fh), (ox, oy) = self.size, self.scaled, self.offset
        bars = fw < w and ox == -((w - fw) // 2) and fh == h and oy == 0
        assert bars or (0 <= ox <= fw - w and 0 <= oy <= fh - h), (self.size, self.scaled, self.offset)

    @classmethod
    def whole(cls, source: tuple[int, int], size: tuple[int, int] | None = None) -> Framing:
        """The whole frame scaled to ``size`` (default: the source's own), whatever its aspect."""
        size = tuple(source) if size is None else tuple(size)
        return cls(tuple(source), size, (0, 0), size)

    @classmethod
    def keep_aspect(cls, source: tuple[int, int], size: tuple[int, int], place: float = 0.5) -> Framing:
        """The frame scaled without distortion to ``size``'s height. Wider than ``size``, a window
        of its width is cut from it, ``place`` (0 at the left, 1 at the right) along the room;
        narrower, it is centred between grey bars. A source within :data:`ASPECT_TOLERANCE` of
        ``size``'s aspect is scaled whole."""
        (sw, sh), (w, h) = source, size
        ratio = (sw / sh) / (w / h)
        if abs(math.log(ratio)) <= math.log1p(ASPECT_TOLERANCE):
            return cls.whole(source, size)
        scaled = (max(1, round(sw * h / sh)), h)
        if scaled[0] < w:
            return cls(tuple(source), scaled, (-((w - scaled[0]) // 2), 0), tuple(size))
        place = min(max(float(place), 0.0), 1.0)
        return cls(tuple(source), scaled, (round(place * (scaled[0] - w)), 0), tuple(size))

    @property
    def plain(self) -> bool:
        """Whether the working frame is the whole frame scaled, with nothing cut or added."""
        return self.scaled == self.size

    @property
    def cuts(self) -> bool:
        """Whether the window leaves part of the frame's width out (and so has a place to choose)."""
        return self.scaled[0] > self.size[0]

    @property
    def _per_pixel(self) -> np.ndarray:
        """Source pixels per working pixel, (x, y)."""
        return np.array(self.source, dtype=np.float64) / np.array(self.scaled, dtype=np.float64)

    @property
    def window_in_source(self) -> tuple[float, float, float, float]:
        """The window in the video's own pixels: x, y of its top-left corner, width, height."""
        (x, y), (w, h) = self.to_source([0.0, 0.0]), np.array(self.size) * self._per_pixel
        return float(x), float(y), float(w), float(h)

    def to_source(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) working-frame points -> the video's own pixels."""
        return (np.asarray(xy, dtype=np.float64) + np.array(self.offset)) * self._per_pixel

    def from_source(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) points in the video's own pixels -> the working frame's."""
        return np.asarray(xy, dtype=np.float64) / self._per_pixel - np.array(self.offset)

    def boxes_to_source(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) cx, cy, w, h working-frame boxes -> the video's own pixels."""
        b = np.asarray(boxes, dtype=np.float64)
        return np.concatenate([self.to_source(b[:, :2]), b[:, 2:] * self._per_pixel], axis=1)

    def boxes_from_source(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) cx, cy, w, h boxes in the video's own pixels -> the working frame's."""
        b = np.asarray(boxes, dtype=np.float64)
        return np.concatenate([self.from_source(b[:, :2]), b[:, 2:] / self._per_pixel], axis=1)

    def at_cut_edge(self, boxes: np.ndarray, margin_px: float = 1.0) -> np.ndarray:
        """(N,) bool: where a working-frame box (N, 4) reaches within ``margin_px`` of an edge of the
        window that cuts the video's frame (not an edge of the frame itself): what is in the box
        may go on outside the window, where the model does not look."""
        w, fw, ox = self.size[0], self.scaled[0], self.offset[0]  # a window is only ever cut in width
        cx, _, bw, _ = np.asarray(boxes, dtype=np.float64).T
        out = np.zeros(len(cx), dtype=bool)
        if ox > 0:
            out |= cx - bw / 2 <= margin_px
        if ox + w < fw:
            out |= cx + bw / 2 >= w - margin_px
        return out

    def cut(self, scaled: np.ndarray) -> np.ndarray:
        """The window of images (..., H, W, C) uint8 already at ``scaled`` size (a view when it is cut
        from them; a new array when it has bars)."""
        (w, h), (ox, oy) = self.size, self.offset
        assert scaled.shape[-3:-1] == (self.scaled[1], self.scaled[0]), (scaled.shape, self.scaled)
        if ox >= 0:
            return scaled[..., oy : oy + h, ox : ox + w, :]
        out = np.full((*scaled.shape[:-3], h, w, scaled.shape[-1]), BAR_GREY, dtype=scaled.dtype)
        out[..., :, -ox : -ox + self.scaled[0], :] = scaled
        return out

    def apply(self, image: np.ndarray) -> np.ndarray:
        """An (H, W, 3) uint8 image at the source's size (a background PNG) -> the working frame."""
        from PIL import Image

        if (image.shape[1], image.shape[0]) != tuple(self.scaled):
            image = np.asarray(Image.fromarray(image).resize(self.scaled, Image.Resampling.BILINEAR))
        return np.ascontiguousarray(self.cut(image))


def busiest_window(activity: np.ndarray, length: float) -> float:
    """Where to put a window of ``length`` cells along a line of ``activity`` (L,) cells (how much moves
    in each) so it holds the most: its start as a fraction of the room (L - length), 0..1. Of equally
    good starts, their middle; a line with no activity, or no room, gives the centre (0.5)."""
    a = np.asarray(activity, dtype=np.float64)
    n = len(a)
    room = n - length
    if room <= 0 or not (a > 0).any():
        return 0.5
    starts = np.linspace(0.0, room, max(2, int(math.ceil(room)) + 1))
    cum = np.concatenate([[0.0], np.cumsum(a)])
    inside = np.interp(starts + length, np.arange(n + 1), cum) - np.interp(starts, np.arange(n + 1), cum)
    best = np.flatnonzero(inside >= inside.max() - 1e-9 * max(1.0, inside.max()))
    return float(starts[best].mean() / room)  # a tie spreads over a run of starts: its middle
