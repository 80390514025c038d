"""Figures of the ``divekit analyze`` report: height and fit, somersault angle, skeleton strip.

Pure drawing: every input is an array (per frame of the video, N frames) already computed by
:mod:`divekit.divemetrics` and :mod:`divekit.calibration.freefall`; each figure is one PNG written
atomically by :func:`divekit.plots.save_figure`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from divekit.calibration.freefall import FreeFallFit
from divekit.plots import _pyplot, save_figure
from divekit.skeleton import BONES, JOINTS, J, neck, pelvis

FLIGHT_COLOUR = "tab:orange"
LEFT_COLOUR, RIGHT_COLOUR, MID_COLOUR = "tab:blue", "tab:red", "0.35"


def _vector(name: str, x: np.ndarray, n: int | None = None, dtype: type = np.float64) -> np.ndarray:
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 1 or (n is not None and len(x) != n):
        raise ValueError(f"{name} must be an (N,) array{'' if n is None else f' with N = {n}'}, got {x.shape}")
    return x


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True in a (N,) bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def _shade_flight(ax, times: np.ndarray, in_flight: np.ndarray, label: str | None = "flight") -> None:
    for first, last in _runs(in_flight):
        ax.axvspan(times[first], times[last], color=FLIGHT_COLOUR, alpha=0.12, lw=0, label=label)
        label = None  # one legend entry however many runs


def plot_height(
    times: np.ndarray,
    centre_y_px: np.ndarray,
    in_flight: np.ndarray,
    fit: FreeFallFit | None,
    metres_per_pixel: float | None,
    path: Path,
) -> None:
    """Centre height against time, the free-fall fit over the flight, and its residuals below.

    times, centre_y_px (image y, down), in_flight: (N,). Up is up: with a fit and a scale the
    height is in metres above the take-off point of the parabola (``fit(fit.t_start)``);
    otherwise it is ``-centre_y_px`` in pixels. The lower panel shows the residuals
    ``centre_y_px - fit(t)`` of the flight frames in image pixels (positive = below the parabola),
    hollow where a frame is not one of the fit's inliers. With ``fit=None`` only the track is drawn,
    with a note that no flight was found.
    """
    plt = _pyplot()
    t = _vector("times", times)
    y = _vector("centre_y_px", centre_y_px, len(t))
    flight = _vector("in_flight", in_flight, len(t), bool)
    if fit is not None and fit.inliers.shape != t.shape:
        raise ValueError(f"fit.inliers must have shape {t.shape}, got {fit.inliers.shape}")
    metric = fit is not None and metres_per_pixel is not None
    if metric:
        ref = float(fit(fit.t_start))

        def up(v: np.ndarray) -> np.ndarray:
            return (ref - v) * metres_per_pixel

        ylabel = "height above take-off (m)"
    else:

        def up(v: np.ndarray) -> np.ndarray:
            return -v

        ylabel = "height (−image y, px)"

    if fit is None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        axes = [ax]
    else:
        fig, axes = plt.subplots(2, 1, figsize=(7, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    ax = axes[0]
    _shade_flight(ax, t, flight)
    ax.plot(t, up(y), ".", ms=3, color="0.45", label="centre")
    if flight.any():
        ax.plot(t[flight], up(y[flight]), ".", ms=4, color=FLIGHT_COLOUR, label="flight frames")
    if fit is None:
        ax.set_title("centre height: no flight found")
        ax.text(
            0.99, 0.97, "no free-fall run: no parabola, no scale from the fall", transform=ax.transAxes,
            ha="right", va="top", fontsize=8, color="0.3", bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
        )  # fmt: skip
    else:
        dense = np.linspace(fit.t_start, fit.t_end, 200)
        ax.plot(dense, up(fit(dense)), "-", color="black", lw=1.2, label="free-fall fit")
        scale = f", {metres_per_pixel:.4g} m/px" if metres_per_pixel is not None else ""
        ax.set_title(f"centre height: free-fall fit rmse {fit.rmse_px:.2f} px over {fit.duration:.2f} s{scale}")
        res_ax = axes[1]
        _shade_flight(res_ax, t, flight, label=None)
        span = flight | fit.inliers
        resid = y[span] - fit(t[span])
        inl = fit.inliers[span]
        res_ax.axhline(0.0, color="black", lw=0.8)
        res_ax.plot(t[span][inl], resid[inl], ".", ms=4, color=FLIGHT_COLOUR, label="inliers")
        res_ax.plot(t[span][~inl], resid[~inl], "o", ms=3.5, mfc="none", color=FLIGHT_COLOUR, label="outliers")
        res_ax.set_ylabel("residual (px)")
        res_ax.grid(alpha=0.3)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    save_figure(fig, path)


def _turns_label(k: int) -> str:
    return f"{k} turn" if abs(k) == 1 else f"{k} turns"


def plot_rotation(times: np.ndarray, angle_deg: np.ndarray, path: Path) -> None:
    """Somersault rotation (degrees since take-off) against time.

    times, angle_deg: (N,), NaN where there is no angle, e.g. :func:`divekit.divemetrics.axis_rotation`
    (what ``analyze`` plots: the silhouette's turn, unsigned) or :func:`~divekit.divemetrics.rotation_angle`
    (the pose's, positive forward). A horizontal line marks every multiple of 360° within the
    angle's range, labelled in turns.
    """
    plt = _pyplot()
    t = _vector("times", times)
    a = _vector("angle_deg", angle_deg, len(t))
    ok = np.isfinite(a)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if ok.any():
        ax.plot(t, a, "-", color="tab:purple", lw=1.5)
        lo, hi = math.floor(a[ok].min() / 360), math.ceil(a[ok].max() / 360)
        step = max(1, math.ceil((hi - lo) / 12))  # no more than a dozen lines whatever the range
        for k in range(lo - lo % step, hi + 1, step):
            ax.axhline(360 * k, color="0.6", lw=0.8, ls="--" if k else "-")
            ax.annotate(
                _turns_label(k), (1.0, 360 * k), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", fontsize=8, color="0.3",
            )  # fmt: skip
        total = (a[ok][-1] - a[ok][0]) / 360
        ax.set_title(f"somersault angle: {total:+.2f} turns")
    else:
        ax.set_title("somersault angle: none (fewer than 2 flight frames with an angle)")
        ax.text(0.5, 0.5, "no angle to show", transform=ax.transAxes, ha="center", va="center", color="0.3")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rotation (°)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    save_figure(fig, path)


def _bone_colour(a: int, b: int) -> str:
    names = JOINTS[a] + JOINTS[b]
    if names.count("left") == 2:
        return LEFT_COLOUR
    if names.count("right") == 2:
        return RIGHT_COLOUR
    return MID_COLOUR  # shoulder and hip lines join the sides


VIEWS = {
    # name: (horizontal, vertical) as (camera axis, sign); camera frame x right, y down, z forward
    "side": ((0, 1.0), (1, -1.0)),
    "depth": ((2, 1.0), (1, -1.0)),
}


def plot_skeleton_strip(
    poses: np.ndarray,
    in_flight: np.ndarray,
    path: Path,
    count: int = 8,
    *,
    times: np.ndarray | None = None,
    view: str = "side",
) -> None:
    """A row of ``count`` stick figures evenly spread over the posed flight frames.

    poses (N, 13, 3): joints in metres in the camera frame (x right, y down, z forward);
    in_flight (N,) bool; without a posed flight frame, the figures spread over every posed frame.
    Each pose is drawn pelvis-centred with the bones of :data:`divekit.skeleton.BONES` and a
    neck-head line, left limbs blue and right limbs red, at one shared scale and equal aspect.

    ``view`` chooses the orthographic projection: ``"side"`` (default) draws camera x
    horizontal and -y up, i.e. the dive plane as a pool-side camera facing it sees it, where a
    somersault is a rotation in the picture; ``"depth"`` draws camera z (depth, away from the
    camera) horizontal and -y up, the view along the dive from its front, which shows what the
    3-D pose adds and where a somersault is seen edge-on. Under each figure: its time in seconds
    when ``times`` (N,) is given, else its frame index.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    plt = _pyplot()
    p = np.asarray(poses, dtype=np.float64)
    if p.ndim != 3 or p.shape[1:] != (len(JOINTS), 3):
        raise ValueError(f"poses must be (N, 13, 3), got {p.shape}")
    flight = _vector("in_flight", in_flight, len(p), bool)
    t = None if times is None else _vector("times", times, len(p))
    posed = np.isfinite(p).all(axis=(1, 2))
    candidates = np.flatnonzero(posed & flight)
    where = "flight"
    if len(candidates) == 0:
        candidates, where = np.flatnonzero(posed), "clip (no flight)"
    (hx, hs), (vx, vs) = VIEWS[view]
    axis_names = "x → right, −y ↑ up" if view == "side" else "z (depth) → right, −y ↑ up"
    if len(candidates) == 0:
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no posed frame to draw", ha="center", va="center", color="0.3")
        save_figure(fig, path)
        return
    pick = candidates[np.unique(np.round(np.linspace(0, len(candidates) - 1, count)).astype(int))]
    centred = p[pick] - pelvis(p[pick])[:, None, :]
    xy = np.stack([hs * centred[..., hx], vs * centred[..., vx]], axis=-1)  # (K, 13, 2)
    head = np.stack([hs * (centred[:, J["head"], hx]), vs * centred[:, J["head"], vx]], axis=-1)
    top = neck(centred)
    neck_xy = np.stack([hs * top[:, hx], vs * top[:, vx]], axis=-1)
    reach = 1.1 * max(float(np.abs(xy).max()), 1e-3)

    fig, axes = plt.subplots(1, len(pick), figsize=(1.5 * len(pick) + 0.4, 2.1), squeeze=False)
    # far bones first: depth towards the viewer is along horizontal x vertical (out of the page)
    towards = np.cross(hs * np.eye(3)[hx], vs * np.eye(3)[vx])
    depth = centred @ towards  # (K, 13)
    for k, (ax, frame) in enumerate(zip(axes[0], pick, strict=True)):
        for a, b in sorted(BONES, key=lambda bone: depth[k, bone[0]] + depth[k, bone[1]]):
            ax.plot(xy[k, [a, b], 0], xy[k, [a, b], 1], "-", color=_bone_colour(a, b), lw=2, solid_capstyle="round")
        ax.plot([neck_xy[k, 0], head[k, 0]], [neck_xy[k, 1], head[k, 1]], "-", color=MID_COLOUR, lw=2)
        ax.plot(*head[k], "o", ms=7, color=MID_COLOUR)
        ax.plot(xy[k, :, 0], xy[k, :, 1], ".", ms=3, color="black")
        ax.set_xlim(-reach, reach)
        ax.set_ylim(-reach, reach)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{t[frame]:.2f} s" if t is not None else f"frame {frame}", fontsize=8)
    fig.suptitle(f"pose over the {where}: {view} view ({axis_names}), pelvis-centred", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
