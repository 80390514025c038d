"""Where something differs from the background: a coarse, label-free track of the diver.

Background subtraction alone is not a detector (splash, water shimmer, lighting and sensor noise
all differ from the background too), but it is a search signal: it says roughly where to look
when the learned box does not yet overlap a small diver (DESIGN.md, "Measured pitfalls"). Combined
with a robust free-fall fit it also finds the flight phase, which the gravity sampler needs.

Shapes: frames (N, H, W, 3) uint8, background (H, W, 3) uint8; tracks in working-frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from divekit.calibration.freefall import FreeFallFit, robust_free_fall
from divekit.steady import moved_back

G = 9.81


@dataclass(frozen=True)
class MotionTrack:
    """Per-frame foreground centre and extent, in working-frame pixels; ``valid`` where seen."""

    times: np.ndarray  # (N,)
    centre: np.ndarray  # (N, 2) x, y
    extent: np.ndarray  # (N, 2) width, height of the central 96 % of foreground mass
    mass: np.ndarray  # (N,) foreground pixels (at the working size)
    valid: np.ndarray  # (N,) bool


def _pool(images: np.ndarray, factor: int) -> np.ndarray:
    """Average-pool (..., H, W) by ``factor`` (H and W divisible or cropped)."""
    h, w = images.shape[-2] // factor * factor, images.shape[-1] // factor * factor
    x = images[..., :h, :w]
    return x.reshape(*x.shape[:-2], h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def colour_difference(images: np.ndarray, reference: np.ndarray, slack_px: float = 0.0) -> np.ndarray:
    """(..., H, W) int16 largest |image - reference| over the colour channels; uint8 (..., H, W, 3) in.

    With ``slack_px``, a channel differs by how far it lies outside the range the reference (H, W, 3)
    spans at that pixel and ``slack_px`` away from it along x, y or both (bilinear): frames held still
    to a fraction of a pixel (:mod:`divekit.steady`) leave that fraction of a high-contrast edge's
    step where a still camera leaves nothing, but a body differs from what is around it.
    """
    if slack_px <= 0:
        return np.abs(images.astype(np.int16) - reference.astype(np.int16)).max(axis=-1)
    steps = (-slack_px, 0.0, slack_px)
    around = np.stack([moved_back(reference, (dx, dy)) for dx in steps for dy in steps]).astype(np.int16)
    image = images.astype(np.int16)
    return np.maximum(np.maximum(around.min(axis=0) - image, image - around.max(axis=0)), 0).max(axis=-1)


def foreground(frames: np.ndarray, background: np.ndarray, *, factor: int = 4) -> np.ndarray:
    """(N, H/f, W/f) float32 foreground strength in [0, 1] from |frame - background|.

    The threshold adapts to the clip: most pixels are background, so the median difference plus
    six robust standard deviations is above noise, compression and slow lighting drift.
    """
    diff = colour_difference(frames, background).astype(np.float32)
    diff = _pool(diff, factor)
    thr = foreground_threshold(diff)
    return np.clip((diff - thr) / thr, 0.0, 1.0)


def foreground_threshold(diff: np.ndarray, floor: float = 12.0) -> float:
    """Foreground threshold of background differences: the median plus six robust standard
    deviations, and at least ``floor`` grey levels."""
    med = float(np.median(diff))
    mad = float(np.median(np.abs(diff - med))) * 1.4826
    return max(med + 6 * mad, floor)


def motion_track(
    frames: np.ndarray, background: np.ndarray, times: np.ndarray, *, factor: int = 4, persistent: float = 0.5
) -> MotionTrack:
    """Centre and extent of the largest foreground blob in every frame.

    Pixels that differ from the background in more than ``persistent`` of the frames are an error
    of the background (a thin line smeared by the codec, a static object), not the diver, and are
    ignored. Blobs are 8-connected after a one-cell dilation, so thin limbs join their body.
    """
    from scipy import ndimage

    n = len(frames)
    fg = np.concatenate([foreground(frames[lo : lo + 64], background, factor=factor) for lo in range(0, n, 64)])
    fg[:, (fg > 0.25).mean(axis=0) > persistent] = 0.0
    gh, gw = fg.shape[1:]
    ys, xs = (np.arange(gh) + 0.5) * factor, (np.arange(gw) + 0.5) * factor
    centre = np.full((n, 2), np.nan)
    extent = np.full((n, 2), np.nan)
    mass = np.zeros(n)
    structure = np.ones((3, 3), bool)
    for i, f in enumerate(fg):
        on = ndimage.binary_dilation(f > 0.25, structure)
        labels, count = ndimage.label(on, structure)
        if count == 0:
            continue
        sizes = ndimage.sum_labels(f, labels, index=np.arange(1, count + 1))
        g = np.where(labels == int(np.argmax(sizes)) + 1, f, 0.0)
        total = g.sum()
        if total * factor * factor < 4:
            continue
        centre[i] = (g.sum(0) @ xs) / total, (g.sum(1) @ ys) / total
        extent[i] = _spread(g.sum(0), xs), _spread(g.sum(1), ys)
        mass[i] = total * factor * factor
    valid = mass >= 4
    return MotionTrack(times=np.asarray(times, float), centre=centre, extent=extent, mass=mass, valid=valid)


def _spread(weights: np.ndarray, coords: np.ndarray) -> float:
    """Width of the central 96 % of a 1-D mass distribution."""
    c = np.cumsum(weights)
    if c[-1] <= 0:
        return float("nan")
    lo = coords[np.searchsorted(c, 0.02 * c[-1])]
    hi = coords[min(np.searchsorted(c, 0.98 * c[-1]), len(coords) - 1)]
    return float(hi - lo)


def plausible_acceleration(frame_height_px: int, view_m: tuple[float, float] = (2.0, 40.0)) -> tuple[float, float]:
    """Range of g in px/s² when the frame height shows between ``view_m`` metres of scene."""
    return G * frame_height_px / view_m[1], G * frame_height_px / view_m[0]


def flight_from_track(track: MotionTrack, frame_height_px: int, *, tol_frac: float = 0.015) -> FreeFallFit | None:
    """The free-fall run of a motion track (take-off to entry), or None if there is none."""
    return robust_free_fall(
        track.times,
        track.centre[:, 1],
        valid=track.valid,
        tol_px=max(tol_frac * frame_height_px, 1.5),
        acc_range=plausible_acceleration(frame_height_px),
    )


@dataclass(frozen=True)
class Silhouettes:
    """Per frame, the diver's silhouette in its box: ``angle`` (N,) of its long axis in radians mod π
    (image axes, y down) and ``centre`` (N, 2) x, y its mass-weighted centroid in the frames' pixels;
    NaN where the box holds almost nothing."""

    angle: np.ndarray
    centre: np.ndarray


# The least difference from the background that counts towards a silhouette. The batch's own
# threshold falls to 12 where the lighting matches the background's, and water shimmer (up to 16
# grey levels, 99th percentile over the water of a rendered clip; a diver's median is some 90)
# and the moving waterline then joined the diver at entry: one straight somersault's axis turned
# 90° in its last frames (0.75 turns counted for 1). Floors of 20, 25 and 30 all counted 45 of 45
# rendered clips within 0.25 turn.
SILHOUETTE_FLOOR = 25.0
# The detector's box can miss a limb (the legs as a diver opens out of a tuck), and the centroid
# then sits above the centre of mass. Where the silhouette runs into its window's edge, that side is
# widened by GROW of the box, at most GROW_STEPS times. On 95 rendered clips (the sample data and 7
# seeds of 10) the scale from the fall was within 3 % on 92 against 90, its mean error +0.30 %
# against +0.79 % (largest 5.5 % against 11.4 %); on 20 fresh clips 19 against 18, +0.05 % against +0.68 %.
GROW = 0.5
GROW_STEPS = 2


def silhouettes(
    frames: np.ndarray,
    background: np.ndarray,
    boxes_px: np.ndarray,
    *,
    margin: float = 0.1,
    stride: int = 4,
    floor: float = SILHOUETTE_FLOOR,
) -> Silhouettes:
    """The long axis and the centroid of each frame's silhouette in its box.

    ``frames`` (N, H, W, 3) and ``background`` (H, W, 3) uint8; ``boxes_px`` (N, 4) cx, cy, w, h in
    their pixels, widened by ``margin`` on each side. Foreground strength is :func:`foreground`'s,
    its threshold taken from every ``stride``-th pixel of the batch (the median and MAD of the whole
    frames cost 6 ms a frame; the subsample gives the same threshold) and at least ``floor``, and it
    is computed inside the boxes only. The silhouette is the connected part of it (8-neighbours)
    with the most strength: whatever else differs from the background inside the box (a
    springboard still bouncing after take-off, a splash, a flicker of water) is left out. Measured
    on 45 rendered clips: with every foreground pixel in the box, a springboard's edge pulled one
    straight somersault's axis upright for half the flight (0.44 turns counted for 1) and its scale
    from the fall 24 % off.

    The axis comes from the second moments of the strength; a somersault turns it by 2π whatever
    the diver looks like, so its unwrapped change counts turns
    (:func:`divekit.divemetrics.axis_turns`). The centroid weighs each pixel by its strength and by
    the depth of body behind it (:func:`depth_weights`), so it follows the centre of mass; the box's
    centre moves about the body as it folds and as the box's edges follow its limbs. Where the
    silhouette runs into its window's edge, the centroid is taken on it found again in a window
    grown on that side (:data:`GROW`, :func:`_grown_part`), so a limb the box missed still weighs;
    the axis keeps the window's own part, whose second moments a line of the scene the diver
    crosses (a lane line, the water) would bend, where the depth weighting makes such a thin line
    count little in the centroid.
    """
    n, h, w = frames.shape[:3]
    assert boxes_px.shape == (n, 4) and background.shape == frames.shape[1:], (boxes_px.shape, background.shape)
    sample = colour_difference(frames[:, ::stride, ::stride], background[::stride, ::stride])
    thr = foreground_threshold(sample, floor)
    angle, centre = np.full(n, np.nan), np.full((n, 2), np.nan)
    for k, (cx, cy, bw, bh) in enumerate(boxes_px):
        if not np.isfinite([cx, cy, bw, bh]).all():
            continue
        x0, x1, y0, y1 = box_window((cx, cy, bw, bh), (w, h), margin)
        if x1 <= x0 or y1 <= y0:
            continue
        part = _strongest_part(frames[k], background, (x0, x1, y0, y1), thr)
        if part is None:
            continue
        m, xs, ys = part
        total = m.sum()
        if total < 5.0:
            continue
        mx, my = (m @ xs) / total, (m @ ys) / total
        dx, dy = xs - mx, ys - my
        angle[k] = 0.5 * np.arctan2(2 * (m @ (dx * dy)), m @ (dx * dx) - m @ (dy * dy))
        m, xs, ys = _grown_part(frames[k], background, (x0, x1, y0, y1), thr, part, (bw, bh))
        mass = m * depth_weights(xs, ys)
        weight = mass.sum()
        # pixel (i, j) covers [j, j + 1) x [i, i + 1): its centre is at + 0.5
        centre[k] = (mass @ xs) / weight + 0.5, (mass @ ys) / weight + 0.5
    return Silhouettes(angle, centre)


def _strongest_part(
    frame: np.ndarray,
    background: np.ndarray,
    window: tuple[int, int, int, int],
    thr: float,
    seed: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """In ``window`` (x0, x1, y0, y1) of ``frame`` (H, W, 3), the connected part (8-neighbours) of the
    pixels differing from ``background`` by more than ``thr`` with the most strength, or the one
    holding pixel ``seed`` (x, y) of the frame when given: its pixels' strengths (M,) in (0, 1],
    columns and rows (M,) in the frame. None when nothing differs."""
    from scipy import ndimage

    x0, x1, y0, y1 = window
    diff = colour_difference(frame[y0:y1, x0:x1], background[y0:y1, x0:x1])
    on = diff > thr
    labels, count = ndimage.label(on, structure=np.ones((3, 3)))
    if count == 0:
        return None
    # the moments over the silhouette's own pixels only (a few hundred of the window's thousands)
    ys, xs = np.nonzero(on)
    part = labels[ys, xs]
    m = np.minimum((diff[ys, xs] - thr) / thr, 1.0)
    if seed is None:
        best = part == 1 + int(np.argmax(np.bincount(part, weights=m)[1:]))
    else:
        best = part == labels[seed[1] - y0, seed[0] - x0]
    return m[best], xs[best] + x0, ys[best] + y0


def _grown_part(
    frame: np.ndarray,
    background: np.ndarray,
    window: tuple[int, int, int, int],
    thr: float,
    part: tuple[np.ndarray, np.ndarray, np.ndarray],
    box_size: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``part`` (:func:`_strongest_part` in ``window``) found again in a window widened where it runs
    into ``window``'s edge (not the frame's), by :data:`GROW` of the box's size (w, h) at a time, at
    most :data:`GROW_STEPS` times: a limb the box missed. It is the part of the wider window that
    holds ``part``'s pixels, never a stronger one the wider window takes in (a splash, the board)."""
    h, w = frame.shape[:2]
    bw, bh = box_size
    for _ in range(GROW_STEPS):
        x0, x1, y0, y1 = window
        _, xs, ys = part
        grown = (
            max(0, x0 - int(GROW * bw)) if xs.min() == x0 else x0,
            min(w, x1 + int(GROW * bw)) if xs.max() == x1 - 1 else x1,
            max(0, y0 - int(GROW * bh)) if ys.min() == y0 else y0,
            min(h, y1 + int(GROW * bh)) if ys.max() == y1 - 1 else y1,
        )
        if grown == window:
            break
        window = grown
        part = _strongest_part(frame, background, window, thr, seed=(int(xs[0]), int(ys[0])))
    return part


def box_window(
    box: tuple[float, float, float, float], size: tuple[int, int], margin: float
) -> tuple[int, int, int, int]:
    """The pixels (x0, x1, y0, y1), ends exclusive, of a box cx, cy, w, h widened by ``margin`` of
    its size on each side, clipped to a frame of ``size`` (width, height); empty when it misses."""
    cx, cy, bw, bh = box
    w, h = size
    x0, x1 = int(max(0, cx - (0.5 + margin) * bw)), min(w, int(cx + (0.5 + margin) * bw) + 1)
    y0, y1 = int(max(0, cy - (0.5 + margin) * bh)), min(h, int(cy + (0.5 + margin) * bh) + 1)
    return x0, x1, y0, y1


def depth_weights(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """How much body lies behind each pixel of a silhouette given as its pixels' (M,) columns and
    rows: the distance from the pixel to the nearest pixel outside the silhouette (1 on its edge).

    A limb or trunk of radius r seen from the side is 2·sqrt(r² − x²) deep at x from its axis, and
    its mass per unit length grows as r². The distance to the edge, r − |x|, also sums to r²
    across it, so weighting each pixel by it makes a silhouette's centroid a centre of mass: a
    thick trunk outweighs thin arms and legs of the same area, as it does in the body. (Measured
    on 45 rendered clips: the distance-weighted centroid's height scattered 1.8 px about the true
    centre of mass's, the plain centroid's 2.5 px; metres per pixel from the fall were within 3 %
    on 40 clips against 35.)
    """
    from scipy import ndimage

    x0, y0 = xs.min() - 1, ys.min() - 1  # a margin of one pixel: the edge is outside the silhouette
    inside = np.zeros((ys.max() - y0 + 2, xs.max() - x0 + 2), dtype=bool)
    inside[ys - y0, xs - x0] = True
    return ndimage.distance_transform_edt(inside)[ys - y0, xs - x0]
