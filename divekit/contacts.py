"""The moments of take-off (the toes leave the board) and entry (the body reaches the water).

The box centre's free-fall run (:mod:`divekit.calibration.freefall`) dates neither: it starts while
the legs still extend and ends after the hands are in (the centre keeps falling). Three witnesses do
better, each measured on 35 rendered clips of divers the model never saw (``benchmarks/bench_analyze.py``):

- **take-off, from the feet** (:func:`feet_takeoff`): the frames around the run's start are compared
  with a frame taken after it, when the board is empty, so the diver is all that differs (the
  estimated background's own errors along the board's edges cancel). The toes stand in the few rows
  just above the board's surface; take-off is when they have left them. Against the truth this is
  a median 0.2-0.5 frame off by clip set. Where the foot's colour is close to the board's it fades
  while it still stands: its pixels are joined by hysteresis to the body above (:func:`joined_diver_pixels`);
- **entry, from the box's lower edge** (:func:`entry_from_bottom`): it falls along a smooth curve
  until the body meets the water, then hardly moves. The break between the two is fitted, with no
  water level to estimate. It runs late (up to 3.5 frames) where the splash, spreading towards
  the camera, carries the box below the entry point;
- **entry, from the splash** (:func:`splash_entry`): around that break, white water the empty
  scene does not have appears the instant the body meets the water; its first frames' growth is
  taken back to nothing. A median 0.1-0.4 frame off by clip set, at most 1.3.

Shapes: times (N,) seconds; frames (K, H, W, 3) uint8 at the video's own size; boxes (K, 4)
cx, cy, w, h in its pixels. Pure numpy and scipy; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from divekit.calibration.freefall import FreeFallFit
from divekit.motion import colour_difference, foreground_threshold

FEET_BAND_PX = 3  # rows just above the board's surface where the standing toes are counted
OFF_FRACTION = 0.2  # the toes are off when fewer than this fraction of their standing pixels remain
WINDOW_S = 0.4  # frames read on each side of the free-fall run's start
STANDING_FRAMES = 15  # the last frames before the run that date the board's surface
ENTRY_WINDOW_S = 0.45  # the box's lower edge is fitted this long on each side of the run's end
# The least grey-level difference between two frames that counts as the diver. Two decoded frames
# carry twice the sensor noise and codec blocking of a frame against a (median) background, whose
# floor is 12 (divekit.motion); with that floor the toes were found on 23 of 25 rendered clips and
# up to 2.5 frames off, with 25 on all 25 and at most 1.8 frames off.
FRAME_DIFF_FLOOR = 25.0
# The toes are counted with hysteresis: pixels above this lower floor join the diver where they touch
# a blob of at least SEED_PX pixels above the full threshold in the same frame. A foot whose colour is
# close to the board's fades below FRAME_DIFF_FLOOR while it still stands: on 75 rendered clips
# take-off was dated within a frame on 63 before (4.4 frames early at worst), on 68 with this (2.6).
TOE_DIFF_FLOOR = 16.0
ROW_GAP = 6  # empty rows that part the body from something else in the feet's region
SEED_PX = 3  # a lone speck above the full threshold is noise: nothing is grown from it


def diver_pixels(diff: np.ndarray) -> np.ndarray:
    """Where a frame differs from its reference (:func:`divekit.motion.colour_difference` ``diff``)
    by more than the noise, and at least :data:`FRAME_DIFF_FLOOR`: the diver, or the splash."""
    return diff > foreground_threshold(diff, FRAME_DIFF_FLOOR)


def joined_diver_pixels(diff: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """(K, H, W) bool: the diver in each of K frame differences ``diff``, by hysteresis: every pixel of
    ``strong`` (:func:`diver_pixels` of ``diff``), and those above the noise and :data:`TOE_DIFF_FLOOR`
    that are 8-connected, within their own frame, to a blob of at least :data:`SEED_PX` of them
    (nothing grows from a speck)."""
    from scipy import ndimage

    weak = (diff > foreground_threshold(diff, TOE_DIFF_FLOOR)) | strong
    within_frame = np.zeros((3, 3, 3), dtype=bool)
    within_frame[1] = True  # 8-connected in the image, never across frames
    seeds, n = ndimage.label(strong, structure=within_frame)
    big = np.flatnonzero(np.bincount(seeds.ravel(), minlength=n + 1)[1:] >= SEED_PX) + 1
    grown, _ = ndimage.label(weak, structure=within_frame)
    kept = np.unique(grown[np.isin(seeds, big)])
    return strong | np.isin(grown, kept[kept > 0])


def body_bottom(row_counts: np.ndarray) -> int:
    """The lowest row of the body in one frame's diver pixels per row ``row_counts`` (rows,). The rows
    holding any are split where :data:`ROW_GAP` or more rows in a row hold none; of those runs, the one
    with the most pixels is the legs and feet (not a line the codec redrew elsewhere in the region), and
    its lowest row with at least 2 pixels is the answer. Some row must hold 2 pixels."""
    rows = np.flatnonzero(row_counts >= 1)
    runs = [r for r in np.split(rows, np.flatnonzero(np.diff(rows) > ROW_GAP) + 1) if (row_counts[r] >= 2).any()]
    body = max(runs, key=lambda r: row_counts[r].sum())
    return int(body[row_counts[body] >= 2][-1])


def crossing_time(t: np.ndarray, y: np.ndarray, level: float, start: int, step: int) -> float | None:
    """Walking from index ``start`` by ``step``, the first time (linearly interpolated) y crosses ``level``."""
    k = start
    while 0 <= k + step < len(t):
        a, b = y[k], y[k + step]
        if np.isfinite(a) and np.isfinite(b) and (a - level) * (b - level) <= 0 and a != b:
            return float(t[k] + (level - a) / (b - a) * (t[k + step] - t[k]))
        k += step
    return None


def back_along(fit: FreeFallFit, t_cross: float, rise_px: float, side: int) -> float:
    """The time the fitted centre was ``rise_px`` px lower than at ``t_cross``: before it (side -1,
    take-off, on the way up) or after it (side +1, entry, on the way down). A contact detected once
    the body has moved ``rise_px`` into the flight is dated back by this."""
    # y(t) - y(t_cross) - rise = 0, with y(t) = y0 + v0 (t - t0) + acc (t - t0)² / 2
    a, b = 0.5 * fit.acc, fit.v0
    c = -(b * (t_cross - fit.t0) + a * (t_cross - fit.t0) ** 2) - rise_px
    roots = np.roots([a, b, c]).real + fit.t0 if a else np.array([fit.t0 - c / b])
    side_roots = roots[(roots - t_cross) * side >= 0]
    return float(side_roots[np.argmin(np.abs(side_roots - t_cross))]) if len(side_roots) else t_cross


# --- take-off --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TakeoffFrames:
    """What :func:`feet_takeoff` reads: ``frames`` (K,) indices around the run's start, ``standing``
    (K,) those before it, ``reference`` a later frame whose box is clear of the board, and
    ``region`` (x0, x1, y0, y1), the pixels around the standing feet (ends exclusive)."""

    frames: np.ndarray
    standing: np.ndarray
    reference: int
    region: tuple[int, int, int, int]


def takeoff_frames(
    times: np.ndarray, boxes: np.ndarray, fit: FreeFallFit, size: tuple[int, int]
) -> TakeoffFrames | None:
    """The frames to read for :func:`feet_takeoff`, or None when the clip cannot show the take-off:
    fewer than 3 boxed frames before the run's start, or no later frame whose box is clear of the
    board. ``times`` (N,), ``boxes`` (N, 4) px of a video of ``size`` (width, height)."""
    t = np.asarray(times, dtype=np.float64)
    window = np.flatnonzero((t >= fit.t_start - WINDOW_S) & (t <= fit.t_start + WINDOW_S))
    standing = t[window] < fit.t_start
    stand = boxes[window[standing]]
    stand = stand[np.isfinite(stand).all(axis=1)][-STANDING_FRAMES:]
    if len(stand) < 3:
        return None
    w, h = size
    bottom, height = float(np.median(stand[:, 1] + stand[:, 3] / 2)), float(np.median(stand[:, 3]))
    x0 = int(max(0, np.min(stand[:, 0] - 0.6 * stand[:, 2])))
    x1 = int(min(w, np.max(stand[:, 0] + 0.6 * stand[:, 2]) + 1))
    y0, y1 = int(max(0, bottom - 0.3 * height)), int(min(h, bottom + 0.3 * height) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    cx, cy, bw, bh = boxes.T
    clear = (cy + bh / 2 < y0) | (cx + bw / 2 < x0) | (cx - bw / 2 > x1)  # NaN boxes are not clear
    later = np.flatnonzero(clear & (t >= fit.t_start + WINDOW_S))
    if len(later) == 0:
        return None
    return TakeoffFrames(frames=window, standing=standing, reference=int(later[0]), region=(x0, x1, y0, y1))


def feet_takeoff(
    frames: np.ndarray,
    reference: np.ndarray,
    times: np.ndarray,
    where: TakeoffFrames,
    fit: FreeFallFit,
    slack_px: float = 0.0,
) -> tuple[float | None, str]:
    """(take-off time, "") from the frames around it, or (None, why not).

    ``frames`` (K, H, W, 3) are the frames ``where.frames`` at ``times`` (K,), and ``reference``
    (H, W, 3) the empty-board frame ``where.reference``. In ``where.region``, the diver is what
    differs from the reference. The board's surface is the lowest row the diver's body covers while
    standing (:func:`body_bottom`, the median over the last :data:`STANDING_FRAMES`); the toes are the
    diver's pixels (:func:`joined_diver_pixels`, so a faint foot still counts) in the
    :data:`FEET_BAND_PX` rows above it. Take-off is when fewer than :data:`OFF_FRACTION` of their
    standing count remain, dated back along the fitted parabola by the half band the body
    has risen by then. From a camera held still (:mod:`divekit.steady`), ``slack_px`` is how far off
    a frame may still sit: a pixel differs only from all the reference's within that distance
    (:func:`divekit.motion.colour_difference`), or the board's edge stays "toes" long after take-off.
    """
    x0, x1, y0, y1 = where.region
    standing = where.standing
    assert len(frames) == len(times) == len(standing), (len(frames), len(times), len(standing))
    diff = colour_difference(frames[:, y0:y1, x0:x1], reference[y0:y1, x0:x1], slack_px)
    strong = diver_pixels(diff)
    on_rows = strong.sum(axis=2)  # (K, rows): diver pixels per row
    lowest = [body_bottom(r) for r in on_rows[standing][-STANDING_FRAMES:] if (r >= 2).any()]
    if len(lowest) < 3:
        return None, "no feet seen on the board"
    surface = int(np.median(lowest))
    band = slice(max(0, surface - FEET_BAND_PX + 1), surface + 1)
    toes = joined_diver_pixels(diff, strong)[:, band].sum(axis=(1, 2)).astype(np.float64)
    standing_toes = float(np.median(toes[standing][-5:]))
    if standing_toes < 3:
        return None, "no feet seen on the board"
    level = OFF_FRACTION * standing_toes
    off = crossing_time(times, toes, level, len(times) - 1, -1) if toes[-1] < level else None
    if off is None:
        return None, "the feet do not leave the board in the frames read"
    return back_along(fit, off, FEET_BAND_PX / 2, -1), ""


# --- entry -----------------------------------------------------------------------------------------


def _hinge_cost(t: np.ndarray, y: np.ndarray, t_break: float) -> float:
    """Absolute residuals of the best curve that is quadratic before ``t_break`` and straight after it
    (continuous there), fitted by least squares."""
    d = t - t_break
    before, after = np.minimum(d, 0.0), np.maximum(d, 0.0)
    a = np.stack([np.ones_like(d), before, before**2, after], axis=1)
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return float(np.abs(a @ coef - y).sum())


def entry_from_bottom(times: np.ndarray, bottom: np.ndarray, fit: FreeFallFit) -> float | None:
    """The entry time from the box's lower edge ``bottom`` (N,) px at ``times`` (N,) s, or None.

    Within :data:`ENTRY_WINDOW_S` of the free-fall run's end, the edge is fitted by a curve that is
    quadratic (falling) before a break and straight (at the water, or sinking slowly) after it; the
    break with the smallest absolute residuals, searched on a tenth of the frame interval and
    refined, is the entry. None with fewer than 4 frames on either side of the run's end.
    """
    from scipy.optimize import minimize_scalar

    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(bottom, dtype=np.float64)
    near = (np.abs(t - fit.t_end) <= ENTRY_WINDOW_S) & np.isfinite(y)
    t, y = t[near], y[near]
    if (t <= fit.t_end).sum() < 4 or (t > fit.t_end).sum() < 4:
        return None
    step = float(np.median(np.diff(t))) / 10
    grid = np.arange(t[1], t[-2], step)
    costs = [_hinge_cost(t, y, b) for b in grid]
    best = grid[int(np.argmin(costs))]
    refined = minimize_scalar(
        lambda b: _hinge_cost(t, y, b), bounds=(best - step, best + step), method="bounded", options={"xatol": 1e-6}
    )
    return float(refined.x) if refined.fun <= min(costs) else float(best)


# --- entry from the splash ---------------------------------------------------------------------------

SPLASH_WINDOW_S = 0.3  # frames read on each side of the box edge's entry
QUIET_S = 0.15  # frames this long before the box edge's entry show the water still quiet
WHITE_MIN = 170  # a splash pixel: every channel at least this bright ...
WHITE_SPREAD = 50  # ... and nearly grey (largest minus smallest channel below this)
SPLASH_START_PX = 3  # new white pixels beyond the quiet frames' most that start the splash
SPLASH_FIT_FRAMES = 3  # the splash's first frames, whose growth is extrapolated back to nothing


@dataclass(frozen=True)
class EntryFrames:
    """What :func:`splash_entry` reads: ``frames`` (K,) indices around the provisional entry,
    ``quiet`` (K,) those well before it, and ``region`` (x0, x1, y0, y1), the pixels around the
    diver's boxes there, widened by 3/4 of a box on each side (ends exclusive)."""

    frames: np.ndarray
    quiet: np.ndarray
    region: tuple[int, int, int, int]


def entry_frames(times: np.ndarray, boxes: np.ndarray, provisional: float, size: tuple[int, int]) -> EntryFrames | None:
    """The frames to read for :func:`splash_entry` around ``provisional`` (s), or None when the clip
    does not hold 2 quiet frames before it and :data:`SPLASH_FIT_FRAMES` + 1 frames after it.
    ``times`` (N,), ``boxes`` (N, 4) px of a video of ``size`` (width, height)."""
    t = np.asarray(times, dtype=np.float64)
    window = np.flatnonzero(np.abs(t - provisional) <= SPLASH_WINDOW_S)
    quiet = t[window] < provisional - QUIET_S
    if quiet.sum() < 2 or (t[window] >= provisional).sum() < SPLASH_FIT_FRAMES + 1:
        return None
    b = boxes[window]
    b = b[np.isfinite(b).all(axis=1)]
    if len(b) == 0:
        return None
    w, h = size
    x0, x1 = int(max(0, np.min(b[:, 0] - 1.25 * b[:, 2]))), int(min(w, np.max(b[:, 0] + 1.25 * b[:, 2]) + 1))
    y0, y1 = int(max(0, np.min(b[:, 1] - 1.25 * b[:, 3]))), int(min(h, np.max(b[:, 1] + 1.25 * b[:, 3]) + 1))
    if x1 <= x0 or y1 <= y0:
        return None
    return EntryFrames(frames=window, quiet=quiet, region=(x0, x1, y0, y1))


def splash_pixels(frames: np.ndarray, background: np.ndarray, slack_px: float = 0.0) -> np.ndarray:
    """(K,) splash pixels of each frame (K, H, W, 3) uint8: near-white (:data:`WHITE_MIN`,
    :data:`WHITE_SPREAD`) where the empty scene ``background`` (H, W, 3) is not (a white wall the
    diver uncovers, a highlight on the water, stay out of the count), within ``slack_px`` of the
    pixel for frames held still (:func:`divekit.motion.colour_difference`)."""
    lo, hi = frames.min(axis=-1), frames.max(axis=-1)
    white = (lo >= WHITE_MIN) & (hi.astype(np.int16) - lo < WHITE_SPREAD)
    return (white & diver_pixels(colour_difference(frames, background, slack_px))).sum(axis=(1, 2))


def splash_entry(
    frames: np.ndarray, background: np.ndarray, times: np.ndarray, quiet: np.ndarray, slack_px: float = 0.0
) -> tuple[float | None, str]:
    """(entry time, "") from the splash, or (None, why not).

    ``frames`` (K, H, W, 3) uint8 around the entry, already cut to the region to watch, and the
    ``background`` (H, W, 3) there; ``times`` (K,) s; ``quiet`` (K,) bool, frames before entry.
    White water appears the instant the body meets it, wherever the camera is: the splash starts at
    the first frame after the quiet ones whose splash pixels (:func:`splash_pixels`) exceed the
    quiet frames' most by :data:`SPLASH_START_PX`, and so do the next frame's (droplets fly off, so
    it need not grow from one frame to the next). Its growth over its first
    :data:`SPLASH_FIT_FRAMES` frames, a straight line in time, is taken back to no splash at all,
    within the interval before that frame.
    """
    t = np.asarray(times, dtype=np.float64)
    q = np.asarray(quiet, dtype=bool)
    assert len(frames) == len(t) == len(q), (len(frames), len(t), len(q))
    counts = splash_pixels(frames, background, slack_px).astype(np.float64)
    base = float(counts[q].max())
    start = int(np.flatnonzero(q)[-1]) + 1
    onset = next(
        (k for k in range(start, len(t) - 1) if min(counts[k], counts[k + 1]) > base + SPLASH_START_PX),
        None,
    )
    if onset is None:
        return None, "no splash seen"
    grow = slice(onset, min(onset + SPLASH_FIT_FRAMES, len(t)))
    slope, intercept = np.polyfit(t[grow], counts[grow] - base, 1)
    when = -intercept / slope if slope > 0 else t[onset] - 0.5 * (t[onset] - t[onset - 1])
    return float(np.clip(when, t[onset - 1], t[onset])), ""
