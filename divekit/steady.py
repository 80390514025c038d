"""A camera that moves: how far the scene shifts in each frame, so the frames can be held still.

Everything divekit measures assumes the scene stays put: the diver is what differs from the empty
pool, and the centre's fall in pixels is the fall in metres. A phone held in the hand sways by a
few pixels and more: on the benchmark's 25 clips made to sway by up to 4 px (the median clip), the
flight time was within a frame on none, and by up to 25 px the flight was found on 2
(``benchmarks/bench_shake.py``). The sway of a
hand-held camera is mostly a shift of the whole picture, which phase correlation measures to a
fraction of a pixel: the frames are then moved back by it (:class:`divekit.video.VideoReader`'s
``shifts``), and the analysis runs on a still scene. A camera that turns about its axis (roll) or
zooms is not followed.

Shapes: grey images (H, W) float; shifts (N, 2) x, y in pixels, how far the scene has moved in
each frame against the reference frame (content at x in the reference is at x + shift).
"""

from __future__ import annotations

import math

import numpy as np

STILL_PX = 0.5  # px at MEASURE_SIDE: a camera whose scene moves less than this (is_still) is still
MEASURE_SIDE = 256  # px: the shorter side the frames are measured at
PEAK_BAND = 0.08  # cycles/px: the spectrum's weight falls as a Gaussian of this width, so the peak is one
MOVING_GREY = 25.0  # grey levels: a pixel that differs more from the scene is something moving in it
CHECK_SIDE = 128  # px: the shorter side the sampled frames are measured at, to see if the camera moves
SAMPLE_FRAMES = 32  # frames spread evenly in time, looked at first to see if the camera moves at all
REACH_PX = 16.0  # px at MEASURE_SIDE: no hand moves the picture further from one frame to the next


def _edge_repeated(image: np.ndarray, start: int, stop: int, axis: int) -> np.ndarray:
    """Indices ``start``..``stop`` (exclusive) of ``image`` along ``axis`` (0 or 1), those outside it
    repeating its edge."""
    n = image.shape[axis]
    if 0 <= start and stop <= n:
        return image[start:stop] if axis == 0 else image[:, start:stop]
    return np.take(image, np.clip(np.arange(start, stop), 0, n - 1), axis=axis)


def _window(shape: tuple[int, int]) -> np.ndarray:
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)


def grey(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 RGB -> (..., H, W) float32 grey levels."""
    return frames.astype(np.float32).mean(axis=-1)


class PhaseCorrelator:
    """The shift of images against one ``reference`` (H, W) grey image, by phase correlation.

    Both are windowed (Hann) so the picture's edges do not count as a structure; the normalised
    cross-power spectrum, weighted by a Gaussian (:data:`PEAK_BAND`), has a Gaussian peak at the
    shift, placed to a fraction of a pixel by a parabola through the logarithms of the peak and its
    two neighbours on each axis.
    """

    def __init__(self, reference: np.ndarray):
        self._reference = reference
        self._window = _window(reference.shape)
        self._ref = np.conj(np.fft.rfft2((reference - reference.mean()) * self._window))
        self.shape = reference.shape
        fy = np.fft.fftfreq(self.shape[0])[:, None]
        fx = np.fft.rfftfreq(self.shape[1])[None, :]
        self._smooth = np.exp(-(fx**2 + fy**2) / (2 * PEAK_BAND**2)).astype(np.float32)

    def shift(
        self, image: np.ndarray, refine: bool = True, near: tuple[float, float] | None = None, reach: float = np.inf
    ) -> tuple[float, float]:
        """(dx, dy): how far ``image``'s content has moved against the reference's.

        With ``refine`` (10 ms for 256x512 against 2.6 ms) it is measured again. The window weighs a
        moved picture's far side less, which pulls a shift of some pixels towards none (by 0.07 px
        for 5 px on 96x160); and what moves in the scene (a diver, a splash) pulls it towards its
        own motion: by 0.4 px for a diver in a portrait clip, by 14 px for a square filling a
        fifth of a frame with little else in it. So the picture is moved back by the first measure,
        what then differs from the reference by more than :data:`MOVING_GREY` is taken from the
        reference, and the residual shift of that is added to the first. With ``near``, the shift is
        looked for within ``reach`` px of it only: a scene with a pattern that repeats across it (lane
        lines) has peaks a period apart, and 7 frames of one clip locked 87-93 px off.
        """
        first = self._once(image, near, reach)
        if not refine:
            return first
        back = moved_back(image, first)
        masked = np.where(np.abs(back - self._reference) > MOVING_GREY, self._reference, back)
        residual = self._once(masked, None if near is None else (0.0, 0.0), reach)
        return first[0] + residual[0], first[1] + residual[1]

    def _once(
        self, image: np.ndarray, near: tuple[float, float] | None = None, reach: float = np.inf
    ) -> tuple[float, float]:
        assert image.shape == self.shape, (image.shape, self.shape)
        spectrum = np.fft.rfft2((image - image.mean()) * self._window) * self._ref
        surface = np.fft.irfft2(self._smooth * spectrum / np.maximum(np.abs(spectrum), 1e-12), s=self.shape)
        h, w = self.shape
        if near is not None and np.isfinite(reach):  # cyclic distance of every shift from ``near``
            dy = (np.arange(h)[:, None] - near[1] + h / 2) % h - h / 2
            dx = (np.arange(w)[None, :] - near[0] + w / 2) % w - w / 2
            surface = np.where(np.hypot(dx, dy) <= reach, surface, -np.inf)
        iy, ix = np.unravel_index(int(np.argmax(surface)), self.shape)
        if not surface[iy, ix] > 0:  # nothing to correlate (a blank picture)
            return (0.0, 0.0) if near is None else near
        log = np.log(np.maximum(surface / surface[iy, ix], 1e-6))  # a Gaussian peak: a parabola in log
        dy = iy + _vertex(log[(iy - 1) % h, ix], 0.0, log[(iy + 1) % h, ix])
        dx = ix + _vertex(log[iy, (ix - 1) % w], 0.0, log[iy, (ix + 1) % w])
        return _signed(dx, w), _signed(dy, h)


def _vertex(left: float, centre: float, right: float) -> float:
    """Offset of a parabola's vertex through (-1, left), (0, centre), (1, right), within ±0.5."""
    bend = left - 2 * centre + right
    return float(np.clip(0.5 * (left - right) / bend, -0.5, 0.5)) if bend < 0 else 0.0


def _signed(d: float, n: int) -> float:
    """A cyclic shift in [0, n) as the nearest signed one."""
    return d - n if d >= n / 2 else d


def scene_shifts(frames: np.ndarray, reference: np.ndarray, refine: bool = True) -> np.ndarray:
    """(N, 2) x, y: how far the scene in each of ``frames`` (N, H, W, 3) uint8 has moved against
    ``reference`` (H, W, 3) uint8, in their pixels (:meth:`PhaseCorrelator.shift`)."""
    corr = PhaseCorrelator(grey(reference))
    return np.array([corr.shift(g, refine) for g in grey(frames)], dtype=np.float64).reshape(-1, 2)


def is_still(shifts: np.ndarray, still_px: float = STILL_PX) -> bool:
    """Whether the scene moved by less than ``still_px`` in at least half the frames (shifts (N, 2)
    px). A body that fills much of a plain picture pulls the correlation in the frames it is in (a
    square a fifth of a smooth frame's size: 0.8 px in a quarter of the frames, 3.1 in a tenth), where
    a hand-held camera sways all the time (the median over 32 frames was 0.8-0.9 px for a sway of
    1.5 px at most, 0.05-0.18 px for still clips)."""
    return bool(len(shifts) == 0 or np.median(np.hypot(*np.asarray(shifts).T)) < still_px)


def moved_back(image: np.ndarray, shift: np.ndarray, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """``image`` (H, W, C) uint8 (or (H, W) float) moved back by ``shift`` (x, y) px, so its scene sits where the
    reference's does: out(x) = image(x + shift), bilinear, the edge repeated where the image ends.
    Only ``region`` (x0, x1, y0, y1; ends exclusive) of the result is made (the whole by default), so
    a few rows around the feet of a 4K frame cost what they hold."""
    h, w = image.shape[:2]
    x0, x1, y0, y1 = (0, w, 0, h) if region is None else region
    ix, iy = math.floor(float(shift[0])), math.floor(float(shift[1]))
    fx, fy = np.float32(float(shift[0]) - ix), np.float32(float(shift[1]) - iy)
    # out(x) blends image(x + ix) and image(x + ix + 1): a block one pixel larger than the region,
    # its rows and columns beyond the image repeating the edge
    rows = _edge_repeated(image, y0 + iy, y1 + iy + 1, axis=0)
    block = _edge_repeated(rows, x0 + ix, x1 + ix + 1, axis=1).astype(np.float32)
    top = block[:-1, :-1] * (1 - fx) + block[:-1, 1:] * fx
    bottom = block[1:, :-1] * (1 - fx) + block[1:, 1:] * fx
    out = top * (1 - fy) + bottom * fy
    return np.clip(out + 0.5, 0, 255).astype(np.uint8) if image.dtype == np.uint8 else out


def aligned_to(reference: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """``frames`` (N, H, W, 3) uint8 each moved back by its own shift against ``reference`` (H, W, 3):
    frames already held still by a path measured at a coarser size, aligned again at their own on
    the part that matters (the board under the feet)."""
    corr = PhaseCorrelator(grey(reference))
    return np.stack([moved_back(f, corr.shift(g)) for f, g in zip(frames, grey(frames), strict=True)])


def show_unseen_as(background: np.ndarray, frames: np.ndarray, seen: list[tuple[int, int, int, int]]) -> None:
    """Where frames (N, H, W, 3) held still do not show the scene (beyond their ``seen`` regions
    (x0, x1, y0, y1), :meth:`divekit.video.VideoReader.seen_region`), put the empty scene
    ``background`` (H, W, 3), in place: the repeated edge rows of a camera that moved up drew streaks
    the detector boxed as the diver (a box's lower edge jumped 120 px after entry)."""
    for frame, (x0, x1, y0, y1) in zip(frames, seen, strict=True):
        frame[:y0], frame[y1:] = background[:y0], background[y1:]
        frame[:, :x0], frame[:, x1:] = background[:, :x0], background[:, x1:]


def camera_path(path) -> np.ndarray | None:
    """(N, 2) x, y: how far the scene has moved in each frame of the video at ``path``, in the
    video's own pixels, or None when the camera is still (:func:`is_still`).

    Measured on grey frames against the median of :data:`SAMPLE_FRAMES` frames spread over the
    clip: the empty scene, as ``divekit background`` estimates it, with no diver in it for the
    correlation to follow (a frame of the clip as the reference locked on the diver mid-flight,
    7 px off on a still clip). The sampled frames, at :data:`CHECK_SIDE` px on the shorter side,
    decide whether the camera may move (some 0.1 s); only then is every frame measured, at
    :data:`MEASURE_SIDE` px, against the median of the samples held still by their own shifts,
    which is sharp again, and the whole path decides.
    """
    from divekit.video import VideoReader

    probe = VideoReader(path).info
    source = np.array([probe.source_width, probe.source_height], dtype=np.float64)

    def size_at(side: int) -> tuple[tuple[int, int], np.ndarray]:
        """(width, height) with ``side`` px on the shorter side (at most the video's own), and the
        video's pixels per pixel there (x, y)."""
        size = tuple(int(max(2, round(v * min(1.0, side / source.min())))) for v in source)
        return size, source / np.array(size, dtype=np.float64)  # type: ignore[return-value]

    size, per_px = size_at(CHECK_SIDE)
    check = VideoReader(path, size=size)
    sample = check.read_region(check.sample_evenly(SAMPLE_FRAMES))
    moved = scene_shifts(sample, np.median(sample, axis=0).astype(np.uint8)) * per_px
    size, per_px = size_at(MEASURE_SIDE)
    if is_still(moved / per_px):
        return None
    measuring = VideoReader(path, size=size)
    sample = measuring.read_region(measuring.sample_evenly(SAMPLE_FRAMES))
    moved = moved / per_px
    moved -= np.median(moved, axis=0)
    reference = np.median([moved_back(f, d) for f, d in zip(sample, moved, strict=True)], axis=0).astype(np.uint8)
    corr = PhaseCorrelator(grey(reference))
    shifts, last = [], (0.0, 0.0)  # the reference is the samples' median scene: the path's middle
    reach = REACH_PX + float(np.abs(moved).max())  # the first frame: anywhere the samples went, and more
    for _, frames, _ in measuring.iter_batches(64):
        for g in grey(frames):
            last = corr.shift(g, near=last, reach=reach)
            shifts.append(last)
            reach = REACH_PX
    shifts = np.array(shifts, dtype=np.float64)
    # measured at CHECK_SIDE, one still clip of 155 rendered ones seemed to move (0.1-1.6 px); every
    # frame at MEASURE_SIDE said still (median 0.31 px)
    return None if is_still(shifts) else shifts * per_px
