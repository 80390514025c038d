"""Dive figures from a tracked and posed clip: flight, rotation, position and metric sizes.

Inputs, per frame of the original video (N frames):

- ``times`` (N,): seconds, increasing, possibly at a variable frame rate;
- ``box_cx``, ``box_cy`` (N,): the diver's box centre in pixels of the original video, image y
  growing downwards (NaN where there is no box); ``box_h`` (N,) its height in pixels;
- ``centre`` (N, 2), optional: the silhouette's centroid (:func:`divekit.motion.silhouettes`) in
  the same pixels. Given, the fall is fitted to it rather than to the box centre;
- ``poses`` (N, 13, 3): joints in metres (:data:`divekit.skeleton.JOINTS` order) in a
  right-handed frame, e.g. the camera frame of :mod:`divekit.calibration.camera` (x right, y down,
  z along the optical axis) that the truth files use. Rotations and angles are computed from the
  body's own geometry, so any right-handed frame gives the same numbers; a mirrored (left-handed)
  frame flips the signs of somersaults and twists. Pelvis-centred poses are fine.

Gravity is the ruler (paper §3.2): the centre falls at g, so the fitted parabola's
acceleration in px/s² gives metres per pixel (:mod:`divekit.calibration.scale`), unless a known
scale (a calibration file) is given. Sign conventions:

- ``somersaults``: signed turns of the trunk about the somersault axis; positive is a forward
  rotation (the head moves towards the chest side: forward and inward dives), negative a
  backward one (back and reverse dives), judged from the body's left axis at take-off;
- ``twists``: signed turns about the trunk's long axis (pelvis -> neck); positive turns the chest
  towards the diver's left (counter-clockwise seen from above the head).

Pure numpy; no printing, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from divekit.calibration.freefall import FreeFallFit, fit_free_fall, robust_free_fall
from divekit.calibration.scale import G, acc_range_from_box, acceleration_px
from divekit.calibration.scale import metres_per_pixel as scale_from_acc
from divekit.contacts import back_along, crossing_time, entry_from_bottom
from divekit.skeleton import J, neck, pelvis, torso_frame

# --- position thresholds ---------------------------------------------------------------------------
# synth_body.POSES holds hip / knee / elbow flexion (radians) of the flight positions:
#   tuck 2.30 / 2.35 / 1.30, pike 2.55 / 0.00 / 0.30, straight 0.00 / 0.00 / 0.05, free 0.05 / 0.05 / 2.30,
# and take-off and entry poses are straight (<= 0.08). A joint counts as bent above 70°, about
# half-way between straight (0-5°) and the held positions (74-146°).
BENT_RAD = math.radians(70.0)
# The position is held for the middle of the flight only (take-off and come-out are straight), so
# each angle is summarised by the value it exceeds during 30 % of the flight frames.
HELD_QUANTILE = 0.7
POSITIONS = ("tuck", "pike", "straight", "free")
# Take-off without frames: the box's lower edge leaves the platform level by this fraction of the
# box height; the platform level is the median over the last frames before the run. On the 25
# sample clips (default model) the box's edge took the flight-time error from 4.2 to 1.7 frames
# (median) against the free-fall run's ends; divekit.contacts does better with the frames.
CONTACT_TOL = 0.05
PLATFORM_FRAMES = 15
# Once take-off and entry are dated, the fall is fitted again on the run's frames within the
# flight and this many frames beyond each contact (their dating is off by a fraction of a frame,
# up to a few; divekit.contacts). The run took in up to 16 frames of the extension on the board
# and of the body entering the water (7.5 on average over 75 rendered clips) whose departure from
# the parabola stayed under its tolerance but whose centre was not falling freely.
FLIGHT_MARGIN_FRAMES = 2
# ... and at least this long: at high frame rates the contacts are off by more frames (a high-speed
# camera's encoder can leave the toes on the board for a few frames; benchmarks/RESULTS.md, "High-speed cameras").
# 1/30 s is 2 frames at 60 frames/s, so at the usual rates (25-60) the margin is 2 frames.
FLIGHT_MARGIN_S = 1 / 30

SUMMARY_KEYS = (
    "flight_found",
    "reason",
    "takeoff_time_s",
    "takeoff_source",
    "entry_time_s",
    "entry_source",
    "flight_time_s",
    "metres_per_pixel",
    "metres_per_pixel_source",
    "apex_height_m",
    "entry_speed_mps",
    "horizontal_travel_m",
    "somersaults",
    "somersault_direction",
    "twists",
    "position",
    "fit_rmse_px",
    "takeoff_time_s_uncertainty",
    "entry_time_s_uncertainty",
    "flight_time_s_uncertainty",
    "metres_per_pixel_uncertainty",
    "apex_height_m_uncertainty",
    "entry_speed_mps_uncertainty",
    "horizontal_travel_m_uncertainty",
    "other_flights",
)


# --- flight phase ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flight:
    """The free-fall phase of a box-centre track.

    ``takeoff_time_s`` / ``entry_time_s`` are None when the run touches the first / last measured
    frame, i.e. the clip starts after take-off or ends before entry: the moment was not seen.
    Their uncertainties are the frame interval to the neighbouring measured frame: the centre's
    path is smooth through take-off and entry, so the run's ends are found within a frame or two.
    """

    fit: FreeFallFit
    takeoff_time_s: float | None
    entry_time_s: float | None
    takeoff_time_uncertainty_s: float | None
    entry_time_uncertainty_s: float | None
    in_flight: np.ndarray  # (N,) bool: frames from the first to the last frame of the run
    takeoff_source: str | None = None  # what dated take-off: "feet", "box" or "free-fall run"
    entry_source: str | None = None  # what dated entry: "splash", "box" or "free-fall run"
    other_flights: tuple[tuple[float, float], ...] = ()  # (start, end) s of other dives in the track

    @property
    def complete(self) -> bool:
        return self.takeoff_time_s is not None and self.entry_time_s is not None


def _find_flight(
    times: np.ndarray,
    centre_y: np.ndarray,
    *,
    box_h: np.ndarray | None,
    valid: np.ndarray | None,
    acc_range: tuple[float, float] | None,
    tol_px: float,
    min_flight_s: float,
    min_sag_tol: float,
    refine: bool = True,
    min_tol_px: float = 0.5,
    takeoff_from: Callable[[FreeFallFit], float | None] | None = None,
    entry_from: Callable[[float], float | None] | None = None,
    box_cy: np.ndarray | None = None,
) -> tuple[Flight | None, str]:
    """The flight of the track ``centre_y`` (N,); ``box_cy`` (default: the track) with ``box_h``
    gives the box's lower edge, which dates the contacts."""
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(centre_y, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"times and the centre track must be (N,) arrays of one length, got {t.shape} and {y.shape}")
    box_y = y if box_cy is None else np.asarray(box_cy, dtype=np.float64)
    if box_y.shape != t.shape:
        raise ValueError(f"box_cy must have shape {t.shape}, got {box_y.shape}")
    ok = np.isfinite(y) & np.isfinite(box_y) & np.isfinite(t)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if box_h is not None:
        h = np.asarray(box_h, dtype=np.float64)
        if h.shape != t.shape:
            raise ValueError(f"box_h must have shape {t.shape}, got {h.shape}")
        ok &= np.isfinite(h) & (h > 0)
    if ok.sum() < 6:
        return None, f"no flight: only {int(ok.sum())} frames have a box (need 6)"
    if acc_range is None:
        acc_range = acc_range_from_box(float(np.median(h[ok]))) if box_h is not None else (1e-6, np.inf)
    fit = robust_free_fall(t, y, valid=ok, tol_px=tol_px, acc_range=acc_range)
    tol = tol_px
    if fit is not None and refine:
        # The run's ends take in frames just before take-off and after entry whose departure from
        # the parabola is still under tol_px (the motion is smooth there); a second fit with a
        # tolerance of 3x the fit's rmse (while smaller) drops them. It must keep most of the
        # run: residuals that are not noise (a box centre is not the centre of mass) could split it.
        for _ in range(3):
            tight = max(min_tol_px, 3 * fit.rmse_px)
            if tight >= 0.9 * tol:
                break
            refit = robust_free_fall(t, y, valid=ok, tol_px=tight, acc_range=acc_range)
            if refit is None or refit.duration < 0.8 * fit.duration:
                break
            fit, tol = refit, tight
    if fit is None:
        lo, hi = acc_range
        bounds = f" accelerating {lo:.0f}-{hi:.0f} px/s²" if math.isfinite(hi) else ""
        return None, f"no flight: no run of frames falls like a parabola{bounds} down the image"
    why = _not_a_flight(fit, tol_px, min_flight_s, min_sag_tol)
    if why:
        return None, why
    measured = np.flatnonzero(ok)
    run = np.flatnonzero(fit.inliers)
    first, last = run[0], run[-1]
    before, after = measured[measured < first], measured[measured > last]
    takeoff = fit.t_start if len(before) else None
    entry = fit.t_end if len(after) else None
    entry_source = "free-fall run" if entry is not None else None
    takeoff_source = "free-fall run" if takeoff is not None else None
    from_feet = takeoff_from(fit) if takeoff is not None and takeoff_from is not None else None
    if from_feet is not None:
        takeoff, takeoff_source = from_feet, "feet"
    if box_h is not None:
        # The centre's free-fall run starts while the legs still extend and ends after the hands
        # reach the water (the centre keeps falling): the box's lower edge dates both contacts
        # better (divekit.contacts). Take-off: it leaves the platform level, dated back along the
        # parabola; entry: it stops falling.
        bottom = np.where(ok, box_y + h / 2, np.nan)
        if takeoff is not None and from_feet is None and len(before) >= 3:
            tol = CONTACT_TOL * float(np.median(h[fit.inliers & ok]))
            apex = int(np.argmin(np.abs(np.where(ok, t, np.inf) - fit.apex_time)))
            platform = float(np.nanmedian(bottom[before[-PLATFORM_FRAMES:]]))
            cross = crossing_time(t, bottom, platform - tol, apex, -1)
            if cross is not None:
                takeoff, takeoff_source = back_along(fit, cross, tol, -1), "box"
        if entry is not None:
            fitted = entry_from_bottom(t, bottom, fit)
            if fitted is not None:
                entry, entry_source = fitted, "box"
    from_splash = entry_from(entry) if entry is not None and entry_from is not None else None
    if from_splash is not None:
        entry, entry_source = from_splash, "splash"
    if takeoff is not None and entry is not None:
        fit = fit_on_flight(t, y, fit, takeoff, entry, tol_px=tol, acc_range=acc_range, margin=flight_margin(t))
    # in flight: from the frame nearest take-off to the frame nearest entry
    lo = takeoff if takeoff is not None else fit.t_start
    hi = entry if entry is not None else fit.t_end
    in_flight = np.zeros(len(t), dtype=bool)
    in_flight[int(np.argmin(np.abs(t - lo))) : int(np.argmin(np.abs(t - hi))) + 1] = True
    drop = OTHER_DIVE_DROP * float(np.median(h[ok])) if box_h is not None else 0.0
    others = other_flights(
        t, y, ok & ~_near(t, lo, hi), tol_px=tol_px, acc_range=acc_range, min_flight_s=min_flight_s,
        min_sag_tol=min_sag_tol, min_drop_px=drop,
    )  # fmt: skip
    return (
        Flight(
            fit=fit,
            takeoff_time_s=takeoff,
            entry_time_s=entry,
            takeoff_time_uncertainty_s=float(t[first] - t[before[-1]]) if len(before) else None,
            entry_time_uncertainty_s=float(t[after[0]] - t[last]) if len(after) else None,
            in_flight=in_flight,
            takeoff_source=takeoff_source,  # None exactly when take-off was not seen
            entry_source=entry_source,  # None exactly when entry was not seen
            other_flights=tuple(others),
        ),
        "",
    )


def _not_a_flight(fit: FreeFallFit, tol_px: float, min_flight_s: float, min_sag_tol: float) -> str:
    """Why the free-fall run ``fit`` is not a flight, or "" when it is one: it lasts less than
    ``min_flight_s``, or it bends the track (its sagitta over the run, acc T² / 8) by less than
    ``min_sag_tol`` tolerances ``tol_px``, as a still or drifting box does."""
    if fit.duration < min_flight_s:
        return f"no flight: the longest free-fall run lasts {fit.duration:.2f} s (< {min_flight_s} s)"
    sagitta = fit.acc * fit.duration**2 / 8
    if sagitta < min_sag_tol * tol_px:
        return f"no flight: the free-fall run bends the track by {sagitta:.1f} px only"
    return ""


OTHER_DIVE_GAP_S = 0.5  # another dive starts at least this long before take-off or after entry
OTHER_DIVE_DROP = 0.25  # ... and falls by at least this many box heights (a hurdle lands where it rose)


def _near(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """(N,) bool: the times within :data:`OTHER_DIVE_GAP_S` of [start, end]."""
    return (t >= start - OTHER_DIVE_GAP_S) & (t <= end + OTHER_DIVE_GAP_S)


def other_flights(
    times: np.ndarray,
    centre_y: np.ndarray,
    free: np.ndarray,
    *,
    tol_px: float,
    acc_range: tuple[float, float],
    min_flight_s: float,
    min_sag_tol: float,
    min_drop_px: float,
    limit: int = 50,
) -> list[tuple[float, float]]:
    """(start, end) s of every other free-fall run of the track ``centre_y`` (N,) at ``times`` (N,)
    among the frames ``free`` (N,) bool: the other dives of a video that holds a training session.

    Each stretch of consecutive free frames is searched as the flight is
    (:func:`divekit.calibration.freefall.robust_free_fall`, at least ``min_flight_s`` and
    ``min_sag_tol`` tolerances of bend), and must end at least ``min_drop_px`` lower than it starts:
    a springboard hurdle, a free fall too, lands back on the board. A run found is taken out with
    :data:`OTHER_DIVE_GAP_S` around it and the rest searched again, until ``limit`` are found.
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(centre_y, dtype=np.float64)
    free = np.asarray(free, dtype=bool) & np.isfinite(y)

    def stretches(mask: np.ndarray) -> list[np.ndarray]:
        idx = np.flatnonzero(mask)
        return [s for s in np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if len(s) >= 6]

    found: list[tuple[float, float]] = []
    queue = stretches(free)
    while queue and len(found) < limit:  # each search finds a run (and splits its stretch) or ends one
        frames = queue.pop()
        valid = np.zeros(len(t), dtype=bool)
        valid[frames] = True
        fit = robust_free_fall(t, y, valid=valid, tol_px=tol_px, acc_range=acc_range)
        if fit is None or _not_a_flight(fit, tol_px, min_flight_s, min_sag_tol):
            continue
        run = np.flatnonzero(fit.inliers)
        if y[run[-1]] - y[run[0]] >= min_drop_px:
            found.append((fit.t_start, fit.t_end))
        queue += stretches(valid & ~_near(t, fit.t_start, fit.t_end))
    return sorted(found)


def flight_margin(times: np.ndarray) -> int:
    """The frames :func:`fit_on_flight` keeps beyond each contact for a clip with frame ``times``
    (N,) s: :data:`FLIGHT_MARGIN_FRAMES`, or the nearest whole number of frames to
    :data:`FLIGHT_MARGIN_S` if more (a 60 frames/s clip's timestamps give a median interval a
    hair under 1/60 s, or over it with a variable rate: still 2 frames)."""
    dt = float(np.median(np.diff(times)))
    return max(FLIGHT_MARGIN_FRAMES, round(FLIGHT_MARGIN_S / dt))


def fit_on_flight(
    times: np.ndarray,
    centre_y: np.ndarray,
    fit: FreeFallFit,
    takeoff: float,
    entry: float,
    *,
    tol_px: float,
    acc_range: tuple[float, float],
    margin: int = FLIGHT_MARGIN_FRAMES,
) -> FreeFallFit:
    """``fit`` again on its frames from ``margin`` frames before the first at or after ``takeoff``
    to ``margin`` frames after the last at or before ``entry`` (times, centre_y: (N,)); ``fit``
    itself when that leaves fewer than 6 frames or an acceleration outside ``acc_range``.

    By ordinary least squares: the frames are the run's inliers, within ``tol_px`` of its
    parabola, and the robust loss that found the run would now only weigh down the flight's ends,
    which fix the curvature. (Over 75 rendered clips, metres per pixel within 3 % on 71 with a
    margin of 2 frames, 69 with 1, 62 with none; on 67 with a margin of 2 and the soft-L1 loss;
    on 64 for the run as it was found.)
    """
    t = np.asarray(times, dtype=np.float64)
    first = int(np.searchsorted(t, takeoff, side="left"))
    last = int(np.searchsorted(t, entry, side="right")) - 1
    keep = fit.inliers.copy()
    keep[: max(first - margin, 0)] = False
    keep[last + margin + 1 :] = False
    if keep.sum() < 6:
        return fit
    refit = fit_free_fall(t, centre_y, keep, tol_px=tol_px, loss="linear", acc_range=acc_range)
    return fit if refit is None else refit


def find_flight(
    times: np.ndarray,
    box_cy: np.ndarray,
    *,
    box_h: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    acc_range: tuple[float, float] | None = None,
    tol_px: float = 3.0,
    min_flight_s: float = 0.3,
    min_sag_tol: float = 3.0,
) -> Flight | None:
    """The flight of a box-centre track (times, box_cy: (N,)), or None when there is none.

    The flight is the longest run of frames whose centre falls like a parabola
    (:func:`divekit.calibration.freefall.robust_free_fall`, inliers within ``tol_px``) with an
    acceleration in ``acc_range`` px/s². Without ``acc_range``, ``box_h`` (N,) bounds it by the
    diver's size (:func:`divekit.calibration.scale.acc_range_from_box`). A run shorter than
    ``min_flight_s``, or bending the track by less than ``min_sag_tol`` tolerances, is not a flight
    (a still or drifting box fits a flat parabola).
    """
    flight, _ = _find_flight(
        times, box_cy, box_h=box_h, valid=valid, acc_range=acc_range, tol_px=tol_px,
        min_flight_s=min_flight_s, min_sag_tol=min_sag_tol,
    )  # fmt: skip
    return flight


# --- rotation ------------------------------------------------------------------------------------------


def _flight_mask(poses: np.ndarray, in_flight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(poses as float (N, 13, 3), (N,) bool mask of the flight frames with a complete pose)."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (len(J), 3):
        raise ValueError(f"poses must be (N, 13, 3), got {poses.shape}")
    in_flight = np.asarray(in_flight, dtype=bool)
    if in_flight.shape != poses.shape[:1]:
        raise ValueError(f"in_flight must be ({len(poses)},), got {in_flight.shape}")
    return poses, in_flight & np.isfinite(poses).all(axis=(1, 2))


def _flight_frames(poses: np.ndarray, in_flight: np.ndarray) -> np.ndarray:
    poses, keep = _flight_mask(poses, in_flight)
    return poses[keep]


def rotation_angle(poses: np.ndarray, in_flight: np.ndarray) -> np.ndarray:
    """Unwrapped signed somersault angle in degrees per frame: poses (N, 13, 3), in_flight (N,) -> (N,).

    The trunk's long axis (pelvis -> neck) turns about the somersault axis, the normal of the
    plane it sweeps (the mean of its frame-to-frame cross products, so twists do not count). Its
    angle about that axis is unwrapped over the posed flight frames (there must be less than half
    a turn between them) and starts at 0 on the first one. Positive = forward: the axis points
    along the body's left at take-off (see the module docstring). NaN outside the flight and on
    frames without a complete pose; all NaN with fewer than 2 posed flight frames. The last
    finite value / 360 is :func:`somersaults`.
    """
    poses, keep = _flight_mask(poses, in_flight)
    out = np.full(len(poses), np.nan)
    if keep.sum() < 2:
        return out
    frames = torso_frame(poses[keep])  # (M, 3, 3) columns forward, left, up
    up, left = frames[:, :, 2], frames[:, :, 1]
    axis = np.cross(up[:-1], up[1:]).sum(axis=0)
    norm = np.linalg.norm(axis)
    if norm < 1e-9:  # the trunk does not turn: no axis, and no rotation either
        out[keep] = 0.0
        return out
    axis /= norm
    k = max(1, len(up) // 5)
    if axis @ left[:k].sum(axis=0) < 0:
        axis = -axis
    # an orthonormal basis (a, b) of the plane normal to the axis
    seed = np.eye(3)[int(np.argmin(np.abs(axis)))]
    a = seed - (seed @ axis) * axis
    a /= np.linalg.norm(a)
    b = np.cross(axis, a)
    angle = np.unwrap(np.arctan2(up @ b, up @ a))
    out[keep] = np.degrees(angle - angle[0])
    return out


def somersaults(poses: np.ndarray, in_flight: np.ndarray) -> float | None:
    """Signed somersault turns over the flight frames: poses (N, 13, 3), in_flight (N,) bool.

    The change of :func:`rotation_angle` from the first to the last posed flight frame, in turns.
    Positive = forward (see the module docstring). None with fewer than 2 posed flight frames.
    """
    angle = rotation_angle(poses, in_flight)
    finite = angle[np.isfinite(angle)]
    if len(finite) < 2:
        return None
    return float((finite[-1] - finite[0]) / 360.0)


RATE_WINDOW_S = 0.3  # median window of the axis' turn rate: longer than the body takes to fold or open


def _axis_turn(axis_angle: np.ndarray, in_flight: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flight frames with an axis angle, and the signed radians the body has turned since the first.

    Unwrapped modulo π, the long axis follows the body except where it folds or opens (a pike, a
    tuck): the axis of a folded body lies some 90° off the trunk's, and its jump there is as likely
    to be unwrapped forwards as backwards, so a plain unwrap can count half a turn too many. Two
    readings mend it. The ends are exact modulo π, since the body is straight at take-off and at
    entry; the median turn rate over :data:`RATE_WINDOW_S` (per second, so a variable frame rate is
    fine) skips the few frames of a fold or an opening and gives the whole turn to well within a
    quarter turn. The total is the end-to-end change plus the multiple of π nearest that coarse
    turn, and the curve is the coarse one with the remainder (under a quarter turn) spread evenly
    over time.
    """
    a = np.asarray(axis_angle, dtype=np.float64)
    idx = np.flatnonzero(np.asarray(in_flight, dtype=bool) & np.isfinite(a))
    if len(idx) < 2:
        return idx, np.zeros(len(idx))
    t = np.asarray(times, dtype=np.float64)[idx]
    unwrapped = np.unwrap(2.0 * a[idx]) / 2.0
    dt = np.diff(t)
    width = max(3, 2 * round(RATE_WINDOW_S / float(np.median(dt)) / 2) + 1)
    rate = median_filter(np.diff(unwrapped) / dt, size=width, mode="nearest")
    coarse = np.concatenate([[0.0], np.cumsum(rate * dt)])
    ends = unwrapped[-1] - unwrapped[0]
    total = ends + np.pi * np.round((coarse[-1] - ends) / np.pi)
    return idx, coarse + (total - coarse[-1]) * (t - t[0]) / (t[-1] - t[0])


def axis_rotation(axis_angle: np.ndarray, in_flight: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(N,) degrees the body has turned since the first flight frame, from the silhouette's long
    axis; NaN elsewhere.

    ``axis_angle`` (N,) is in radians modulo π (:func:`divekit.motion.silhouettes`), ``times`` (N,)
    in seconds. The turn is counted as :func:`_axis_turn` explains and in its own direction, so it
    grows from 0 to 360° per somersault. It needs no pose model, so it holds for divers the model
    has never seen; the direction (forward or backward) comes from :func:`rotation_direction`.
    """
    out = np.full(len(axis_angle), np.nan)
    idx, turned = _axis_turn(axis_angle, in_flight, times)
    if len(idx) >= 2:
        out[idx] = np.degrees(turned if turned[-1] >= 0 else -turned)
    return out


def axis_turns(axis_angle: np.ndarray, in_flight: np.ndarray, times: np.ndarray) -> float | None:
    """Unsigned somersault turns over the flight from the silhouette's long axis (:func:`axis_rotation`)."""
    idx, turned = _axis_turn(axis_angle, in_flight, times)
    return float(abs(turned[-1]) / (2 * np.pi)) if len(idx) >= 2 else None


FACING_FRAMES = 10  # posed frames before take-off that say which way the diver faces


def rotation_direction(
    axis_angle: np.ndarray, poses: np.ndarray, in_flight: np.ndarray, times: np.ndarray
) -> str | None:
    """Which way the diver somersaults, "forward" or "backward", from the image and the stance.

    ``axis_angle`` (N,) radians mod π in image axes (x right, y down); ``poses`` (N, 13, 3) in the
    camera frame (x right, as the image); ``in_flight`` (N,) bool; ``times`` (N,) s. A forward rotation turns the
    head towards the chest side. The silhouette's long axis gives the sense of the turn on screen
    (:func:`_axis_turn`'s sign: the image angle grows clockwise), which
    needs no pose; the pose gives only the facing, the chest's side along x in the last
    :data:`FACING_FRAMES` posed frames before take-off, when the diver stands upright (else the
    first 3 posed flight frames). Facing +x and turning clockwise is forward, and so on by symmetry;
    facing the board and turning forward (an inward dive) is forward too. None without a turn or a
    facing.
    """
    flying = np.asarray(in_flight, dtype=bool)
    idx, turned = _axis_turn(axis_angle, flying, times)
    if len(idx) < 2:
        return None
    sense = np.sign(turned[-1])
    p = np.asarray(poses, dtype=np.float64)
    posed = np.isfinite(p).all(axis=(1, 2))
    start = int(np.flatnonzero(flying)[0])
    stance = np.flatnonzero(posed[:start])[-FACING_FRAMES:]
    if len(stance) == 0:  # the first flight frames, before the turn takes the chest round
        stance = np.flatnonzero(posed & flying)[:3]
    if sense == 0 or len(stance) == 0:
        return None
    facing = np.sign(np.median(torso_frame(p[stance])[:, 0, 0]))  # chest direction, x component
    if facing == 0:
        return None
    return "forward" if sense * facing > 0 else "backward"


def twists(poses: np.ndarray, in_flight: np.ndarray) -> float | None:
    """Signed twist turns over the flight frames: poses (N, 13, 3), in_flight (N,) bool.

    The sum over consecutive flight frames of the rotation between trunk frames, taken in the
    body frame, about the body's long axis (up). A somersault increment lies in the plane normal
    to the long axis and adds nothing to it, up to third order in the per-frame angles. Positive
    turns the chest towards the diver's left. None with fewer than 2 posed flight frames.

    Only steps between two open frames count, hips and knees both bent less than
    :data:`BENT_RAD`: a diver twists with the body open (straight or free), and the estimated pose
    of a folded body turned about its trunk's axis that was not there (on 75 rendered clips the
    model's poses counted 0.1-3.2 twists on tucked and piked dives that have none; counted on open
    frames only, the twists of every clip's true joints are unchanged).
    """
    p = _flight_frames(poses, in_flight)
    if len(p) < 2:
        return None
    bent = flexion_angles(p)
    open_ = (bent["hip"] < BENT_RAD) & (bent["knee"] < BENT_RAD)
    frames = torso_frame(p)
    rel = np.einsum("nji,njk->nik", frames[:-1], frames[1:])  # R_t^T R_{t+1}: body-frame increments
    cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos)
    sin = np.sin(theta)
    scale = np.where(sin > 1e-9, theta / np.maximum(sin, 1e-12), 1.0) / 2  # log map: theta / (2 sin theta)
    about_up = scale * (rel[:, 1, 0] - rel[:, 0, 1])
    return float(about_up[open_[:-1] & open_[1:]].sum() / (2 * np.pi))


# --- position ------------------------------------------------------------------------------------------


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def flexion_angles(poses: np.ndarray) -> dict[str, np.ndarray]:
    """Hip, knee and elbow flexion (radians, 0 = straight), left/right averaged: (N, 13, 3) -> (N,) each.

    Hip: thigh (hip -> knee) against the trunk pointing down (neck -> pelvis); knee: thigh against
    shank (knee -> ankle); elbow: upper arm (shoulder -> elbow) against forearm (elbow -> wrist).
    """
    p = np.asarray(poses, dtype=np.float64)
    down = pelvis(p) - neck(p)
    out = {}
    for name, (a, b, c) in {
        "hip": (None, "hip", "knee"),
        "knee": ("hip", "knee", "ankle"),
        "elbow": ("shoulder", "elbow", "wrist"),
    }.items():
        sides = []
        for s in ("left", "right"):
            mid, end = p[..., J[f"{s}_{b}"], :], p[..., J[f"{s}_{c}"], :]
            first = down if a is None else mid - p[..., J[f"{s}_{a}"], :]
            sides.append(_angle(first, end - mid))
        out[name] = 0.5 * (sides[0] + sides[1])
    return out


def position(poses: np.ndarray, in_flight: np.ndarray) -> str | None:
    """The flight position, tuck, pike, straight or free, from the held flexion of the flight frames.

    Each angle is summarised by its :data:`HELD_QUANTILE` quantile over the flight frames and
    compared with :data:`BENT_RAD` (70°): knees bent -> tuck; hips bent with straight knees ->
    pike; hips and knees straight -> straight, or free when the elbows are bent (the synthetic
    "free" position is a straight body with bent arms: hips and knees alone cannot tell it from
    straight). None with no posed flight frame.
    """
    p = _flight_frames(poses, in_flight)
    if len(p) == 0:
        return None
    held = {k: float(np.quantile(v, HELD_QUANTILE)) for k, v in flexion_angles(p).items()}
    if held["knee"] >= BENT_RAD:
        return "tuck"
    if held["hip"] >= BENT_RAD:
        return "pike"
    return "free" if held["elbow"] >= BENT_RAD else "straight"


# --- metric figures ------------------------------------------------------------------------------------


def _propagate(f: Callable[[np.ndarray], float], x: np.ndarray, cov: np.ndarray) -> float:
    """1-sigma of f(x) for x with covariance ``cov``, by a central-difference Jacobian."""
    grad = np.zeros(len(x))
    for i in range(len(x)):
        h = 1e-6 * max(abs(x[i]), math.sqrt(max(cov[i, i], 0.0)), 1e-6)
        e = np.zeros(len(x))
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return float(math.sqrt(max(grad @ cov @ grad, 0.0)))


def _parabola_cov(fit: FreeFallFit, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(3, 3) least-squares covariance of (y0, v0, acc) on the fit's inliers at its solution."""
    dt = t[fit.inliers] - fit.t0
    a = np.stack([np.ones_like(dt), dt, 0.5 * dt**2], axis=1)
    r = fit(t[fit.inliers]) - y[fit.inliers]
    sigma2 = float(r @ r) / max(len(r) - 3, 1)
    try:
        return np.linalg.inv(a.T @ a) * sigma2
    except np.linalg.LinAlgError:
        return np.full((3, 3), np.inf)


def _line_fit(t: np.ndarray, x: np.ndarray) -> tuple[float, float] | None:
    """(slope, 1-sigma) of a straight line through (t, x), or None with fewer than 3 points."""
    if len(t) < 3:
        return None
    a = np.stack([np.ones_like(t), t - t.mean()], axis=1)
    coef, *_ = np.linalg.lstsq(a, x, rcond=None)
    r = a @ coef - x
    var = float(r @ r) / (len(t) - 2) / float(np.sum((t - t.mean()) ** 2))
    return float(coef[1]), math.sqrt(var)


def apex_rise_px(v0_px_s: float, acc_px_s2: float) -> float:
    """Pixels the centre rises above its position at a time it moves at ``v0`` (px/s, y down)."""
    return v0_px_s**2 / (2 * acc_px_s2) if v0_px_s < 0 else 0.0


def dive_report(
    times: np.ndarray,
    box_cx: np.ndarray,
    box_cy: np.ndarray,
    poses: np.ndarray | None = None,
    *,
    box_h: np.ndarray | None = None,
    valid: np.ndarray | None = None,
    metres_per_pixel: float | None = None,
    metres_per_pixel_uncertainty: float | None = None,
    g: float = G,
    tol_px: float | None = None,
    axis_angle: np.ndarray | None = None,
    centre: np.ndarray | None = None,
    takeoff_from: Callable[[FreeFallFit], float | None] | None = None,
    entry_from: Callable[[float], float | None] | None = None,
) -> tuple[dict, Flight | None]:
    """Every figure of one dive as a JSON-ready dict with the keys :data:`SUMMARY_KEYS`, and its flight.

    times, box_cx, box_cy, box_h, valid: (N,); poses: (N, 13, 3) or None (then somersaults,
    twists and position are None). ``metres_per_pixel`` (± its uncertainty), e.g. from a
    calibration file, overrides the scale measured from the fall and narrows the accepted fall
    accelerations to within a factor 1.5 of ``g / metres_per_pixel``. ``tol_px`` is the distance
    from the parabola within which a frame belongs to the flight; by default 3 px, or an eighth of
    the median box height when ``box_h`` is given and that is larger (a box centre wobbles about
    the centre of mass as the body folds and turns, in proportion to its size). ``axis_angle``
    (N,), the silhouette's long-axis angle (:func:`divekit.motion.silhouettes`), makes
    ``somersaults`` the unsigned count of :func:`axis_turns`, with ``somersault_direction``
    (forward / backward) from the sense of that turn and the pose's facing
    (:func:`rotation_direction`); without it, ``somersaults`` is the pose's signed count.
    ``centre`` (N, 2), the silhouette's centroid, is the track the fall and the horizontal line are
    fitted to when given (NaN rows are unmeasured frames); the box still dates the contacts.

    ``takeoff_from(fit)``, given the fitted free fall, may measure take-off elsewhere (on the
    frames, :func:`divekit.contacts.feet_takeoff`; ``takeoff_source`` "feet"); when it gives None,
    take-off is the box's lower edge leaving the platform level ("box"), else the free-fall run's
    start ("free-fall run"). Entry is the box's lower edge ceasing to fall
    (:func:`divekit.contacts.entry_from_bottom`, "box"), else the run's end; ``entry_from(entry)``,
    given that provisional entry, may date it better (from the splash,
    :func:`divekit.contacts.splash_entry`; ``entry_source`` "splash"). With both contacts dated,
    the fall is fitted again on the run's frames within the flight (:func:`fit_on_flight`), and
    the figures come from that fit. The apex is
    the centre's rise above its take-off height on the fitted parabola; the entry speed combines
    the parabola's vertical speed at entry with the horizontal speed of a line fitted to the centre's x
    over the run; the horizontal travel is that line's change between take-off and entry
    (unsigned). Uncertainties are 1-sigma, from the least-squares covariances, the scale's
    uncertainty and one frame of timing at take-off and entry.

    ``other_flights`` lists the (start, end) s of other dives in the track (:func:`other_flights`):
    the figures are of one dive, the longest free fall.

    Never invents numbers: with no flight, every figure is None, ``flight_found`` is False and
    ``reason`` says why; when the clip starts after take-off or ends before entry, the figures
    that need the missing moment (and the rotation counts, which would be partial) are None and
    ``reason`` says which. ``reason`` is None for a complete flight.
    """
    out: dict = dict.fromkeys(SUMMARY_KEYS)
    out["flight_found"] = False
    t = np.asarray(times, dtype=np.float64)
    cx = np.asarray(box_cx, dtype=np.float64)
    cy = np.asarray(box_cy, dtype=np.float64)
    if cx.shape != t.shape:
        raise ValueError(f"box_cx must have shape {t.shape}, got {cx.shape}")
    fx, fy = cx, cy  # the track the fall is fitted to
    if centre is not None:
        centre = np.asarray(centre, dtype=np.float64)
        if centre.shape != (len(t), 2):
            raise ValueError(f"centre must have shape ({len(t)}, 2), got {centre.shape}")
        fx, fy = centre[:, 0], centre[:, 1]
    known = metres_per_pixel is not None
    acc_range = None
    if known:
        expected = acceleration_px(metres_per_pixel, g)
        acc_range = (expected / 1.5, expected * 1.5)
    if tol_px is None:
        h = np.asarray(box_h, dtype=np.float64) if box_h is not None else np.array([np.nan])
        h = h[np.isfinite(h) & (h > 0)]
        tol_px = max(3.0, float(np.median(h)) / 8) if len(h) else 3.0
    flight, reason = _find_flight(
        t, fy, box_cy=cy, box_h=box_h, valid=valid, acc_range=acc_range, tol_px=tol_px, min_flight_s=0.3,
        min_sag_tol=3.0, takeoff_from=takeoff_from, entry_from=entry_from,
    )  # fmt: skip
    if flight is None:
        out["reason"] = reason
        return out, None
    fit = flight.fit
    out["flight_found"] = True
    out["other_flights"] = [[round(a, 3), round(b, 3)] for a, b in flight.other_flights]
    out["fit_rmse_px"] = fit.rmse_px
    out["takeoff_time_s"] = flight.takeoff_time_s
    out["takeoff_source"] = flight.takeoff_source
    out["entry_source"] = flight.entry_source
    out["takeoff_time_s_uncertainty"] = flight.takeoff_time_uncertainty_s
    out["entry_time_s"] = flight.entry_time_s
    out["entry_time_s_uncertainty"] = flight.entry_time_uncertainty_s

    # parameters: v0 (px/s at t_start), acc (px/s²), vx (px/s), known scale (m/px), take-off and entry time shifts (s)
    cov_y = _parabola_cov(fit, t, fy)
    inl = fit.inliers & np.isfinite(fx)
    line = _line_fit(t[inl], fx[inl])
    vx, vx_std = line if line is not None else (0.0, 0.0)  # unused without a line
    s_t = flight.takeoff_time_uncertainty_s or 0.0
    s_e = flight.entry_time_uncertainty_s or 0.0
    # the contacts may lie a little inside or outside the free-fall run: shift its ends to them
    shift_t = (flight.takeoff_time_s - fit.t_start) if flight.takeoff_time_s is not None else 0.0
    shift_e = (flight.entry_time_s - fit.t_end) if flight.entry_time_s is not None else 0.0
    x = np.array([fit.v0, fit.acc, vx, metres_per_pixel if known else 0.0, shift_t, shift_e])
    cov = np.zeros((6, 6))
    cov[:2, :2] = cov_y[1:, 1:]
    cov[2, 2] = vx_std**2
    cov[3, 3] = (metres_per_pixel_uncertainty or 0.0) ** 2 if known else 0.0
    cov[4, 4], cov[5, 5] = s_t**2, s_e**2

    def scale(p: np.ndarray) -> float:
        return float(p[3]) if known else g / float(p[1])

    out["metres_per_pixel"] = scale(x)
    out["metres_per_pixel_source"] = "calibration" if known else "fall"
    out["metres_per_pixel_uncertainty"] = (
        metres_per_pixel_uncertainty if known else scale_from_acc(fit.acc, math.sqrt(cov_y[2, 2]), g)[1]
    )
    run_s = fit.t_end - fit.t_start

    def apex(p: np.ndarray) -> float:
        return apex_rise_px(p[0] + p[1] * p[4], p[1]) * scale(p)

    def entry_speed(p: np.ndarray) -> float:
        vy = p[0] + p[1] * (run_s + p[5])
        return math.hypot(vy, p[2]) * scale(p)

    def travel(p: np.ndarray) -> float:
        return abs(p[2]) * (run_s + p[5] - p[4]) * scale(p)

    notes = []
    if flight.takeoff_time_s is None:
        notes.append("the clip starts after take-off: take-off time, flight time, apex height and travel unknown")
    else:
        out["apex_height_m"] = apex(x)
        out["apex_height_m_uncertainty"] = _propagate(apex, x, cov)
    if flight.entry_time_s is None:
        notes.append("the clip ends before entry: entry time, flight time, entry speed and travel unknown")
    elif line is not None:
        out["entry_speed_mps"] = entry_speed(x)
        out["entry_speed_mps_uncertainty"] = _propagate(entry_speed, x, cov)
    if flight.complete:
        out["flight_time_s"] = run_s + shift_e - shift_t
        out["flight_time_s_uncertainty"] = math.hypot(s_t, s_e)
        if line is not None:
            out["horizontal_travel_m"] = travel(x)
            out["horizontal_travel_m_uncertainty"] = _propagate(travel, x, cov)
    if line is None:
        notes.append("fewer than 3 flight frames have a box x: entry speed and travel unknown")

    if poses is not None:
        poses = np.asarray(poses, dtype=np.float64)
        if poses.shape != (len(t), len(J), 3):
            raise ValueError(f"poses must have shape ({len(t)}, 13, 3), got {poses.shape}")
        out["position"] = position(poses, flight.in_flight)
        if flight.complete:
            signed = somersaults(poses, flight.in_flight)
            out["somersaults"] = signed
            if signed is not None and signed != 0:
                out["somersault_direction"] = "forward" if signed > 0 else "backward"
            if axis_angle is not None:  # the count and the sense from the silhouette, the facing from the pose
                out["somersaults"] = axis_turns(axis_angle, flight.in_flight, t)
                out["somersault_direction"] = rotation_direction(axis_angle, poses, flight.in_flight, t)
            out["twists"] = twists(poses, flight.in_flight)
        else:
            notes.append("rotation counts of a partial flight would be partial: somersaults and twists unknown")
    out["reason"] = "; ".join(notes) or None
    return out, flight


def dive_summary(
    times: np.ndarray, box_cx: np.ndarray, box_cy: np.ndarray, poses: np.ndarray | None = None, **kw
) -> dict:
    """The figures of :func:`dive_report` without the flight."""
    return dive_report(times, box_cx, box_cy, poses, **kw)[0]
