"""Robust free-fall fit of a tracked centre: the flight phase and its acceleration in pixels/s².

A body in free fall has a centre of mass whose image height follows
``y(t) = y0 + v0 (t - t0) + ½ a (t - t0)²`` when the camera's image plane is parallel to the dive
plane (paper S.3; the error otherwise is estimated elsewhere). Before take-off and after entry the
track does not follow it, and nothing says where those parts are: the fit finds the longest run of
frames that does (RANSAC over triples, then least squares with a soft-L1 loss on that run).

Shapes: ``t`` and ``y`` are (N,) arrays of seconds and pixels (image y grows downwards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FreeFallFit:
    """y(t) = y0 + v0 (t - t0) + ½ acc (t - t0)², fitted on frames ``inliers`` between t_start and t_end."""

    t0: float
    y0: float
    v0: float
    acc: float  # px/s², positive = accelerating down the image
    acc_std: float  # 1-sigma from the least-squares covariance
    t_start: float  # first frame of the free-fall run (take-off estimate)
    t_end: float  # last frame of the run (entry estimate)
    inliers: np.ndarray  # (N,) bool, frames of the run that fit
    rmse_px: float

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        dt = np.asarray(t, dtype=np.float64) - self.t0
        return self.y0 + self.v0 * dt + 0.5 * self.acc * dt**2

    @property
    def apex_time(self) -> float:
        """Time of the highest point of the parabola (may lie outside the run)."""
        return self.t0 - self.v0 / self.acc

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start


def _parabola_through(t: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Coefficients (c0, c1, c2) of y = c0 + c1 t + c2 t² through three points, or None."""
    a = np.stack([np.ones(3), t, t**2], axis=1)
    if abs(np.linalg.det(a)) < 1e-12:
        return None
    return np.linalg.solve(a, y)


def _longest_run(mask: np.ndarray, max_gap: int) -> tuple[int, int, int]:
    """(start, stop, count) of the longest stretch of True allowing ``max_gap`` False in a row."""
    on = np.flatnonzero(mask)
    if len(on) == 0:
        return (0, 0, 0)
    segment = np.concatenate([[0], np.cumsum(np.diff(on) - 1 > max_gap)])
    counts = np.bincount(segment)
    members = on[segment == int(np.argmax(counts))]
    return (int(members[0]), int(members[-1]) + 1, int(len(members)))


LOCAL_SAMPLE_S = 0.75  # s: half the span within which the second half of the samples are drawn


def robust_free_fall(
    t: np.ndarray,
    y: np.ndarray,
    *,
    valid: np.ndarray | None = None,
    tol_px: float = 3.0,
    acc_range: tuple[float, float] = (1e-6, np.inf),
    min_points: int = 6,
    max_gap: int = 2,
    iterations: int = 300,
    seed: int = 0,
) -> FreeFallFit | None:
    """Find the longest free-fall run of a track and fit it; None if no run of ``min_points`` fits.

    ``valid`` marks frames with a measurement; ``tol_px`` is the inlier distance; ``acc_range``
    bounds plausible accelerations in px/s² (e.g. from g and a range of metres per pixel).
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    assert t.shape == y.shape and t.ndim == 1, "t and y must be (N,) arrays"
    valid = np.isfinite(y) if valid is None else (np.asarray(valid, bool) & np.isfinite(y))
    idx = np.flatnonzero(valid)
    if len(idx) < max(min_points, 3):
        return None
    tv, yv = t[idx], y[idx]
    t_mid = float(tv.mean())
    rng = np.random.default_rng(seed)

    def run_of(coef: np.ndarray) -> tuple[int, int, int]:
        resid = np.abs(yv - np.polyval(coef[::-1], tv - t_mid))
        return _longest_run(resid < tol_px, max_gap)

    def local_pick() -> np.ndarray | None:
        first = int(rng.integers(len(idx)))
        near = np.flatnonzero(np.abs(tv - tv[first]) <= LOCAL_SAMPLE_S)
        near = near[near != first]
        return None if len(near) < 2 else np.sort(np.append(rng.choice(near, size=2, replace=False), first))

    # Three frames drawn from the whole track, then three drawn within LOCAL_SAMPLE_S of each other:
    # in a long video the flight is a small part of the track, and three frames drawn from all of it
    # rarely all lie in it (a sample clip played 16 times over gave no flight at all).
    best_run, best_coef = (0, 0, 0), None
    for k in range(2 * iterations):
        pick = np.sort(rng.choice(len(idx), size=3, replace=False)) if k < iterations else local_pick()
        if pick is None:
            continue
        coef = _parabola_through(tv[pick] - t_mid, yv[pick])
        if coef is None or not acc_range[0] <= 2 * coef[2] <= acc_range[1]:
            continue
        run = run_of(coef)
        if run[2] > best_run[2]:
            best_run, best_coef = run, coef
    if best_coef is None or best_run[2] < min_points:
        return None

    # grow and refine: refit on the run, recompute which frames fit, until the run stops changing
    run = best_run
    for _ in range(10):
        lo, hi = run[0], run[1]
        resid = np.abs(yv[lo:hi] - np.polyval(best_coef[::-1], tv[lo:hi] - t_mid))
        keep = np.arange(lo, hi)[resid < tol_px]
        best_coef = np.polyfit(tv[keep] - t_mid, yv[keep], 2)[::-1]
        new_run = run_of(best_coef)
        if new_run == run or new_run[2] < min_points:
            break
        run = new_run
    lo, hi = run[0], run[1]
    resid = np.abs(yv[lo:hi] - np.polyval(best_coef[::-1], tv[lo:hi] - t_mid))
    keep = np.arange(lo, hi)[resid < tol_px]
    if len(keep) < min_points:
        return None

    c = best_coef
    t0 = float(tv[keep][0])
    start = np.array([c[0] + c[1] * (t0 - t_mid) + c[2] * (t0 - t_mid) ** 2, c[1] + 2 * c[2] * (t0 - t_mid), 2 * c[2]])
    inliers = np.zeros(len(t), dtype=bool)
    inliers[idx[keep]] = True
    return fit_free_fall(t, y, inliers, tol_px=tol_px, start=start, acc_range=acc_range)


def fit_free_fall(
    t: np.ndarray,
    y: np.ndarray,
    frames: np.ndarray,
    *,
    tol_px: float = 3.0,
    start: np.ndarray | None = None,
    loss: str = "soft_l1",
    acc_range: tuple[float, float] = (-np.inf, np.inf),
) -> FreeFallFit | None:
    """The parabola through the track (t, y: (N,)) on the frames ``frames`` (N,) bool: least
    squares with ``loss`` (scipy's names; "soft_l1" of scale ``tol_px`` / 2, "linear" for ordinary
    least squares), starting from ``start`` (y0, v0, acc at the first frame) or an ordinary fit.
    None with fewer than 3 frames or an acceleration outside ``acc_range`` (px/s²)."""
    from scipy.optimize import least_squares

    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    frames = np.asarray(frames, dtype=bool) & np.isfinite(y) & np.isfinite(t)
    if frames.sum() < 3:
        return None
    t_fit, y_fit = t[frames], y[frames]
    t0 = float(t_fit[0])

    def residuals(p: np.ndarray) -> np.ndarray:
        dt = t_fit - t0
        return p[0] + p[1] * dt + 0.5 * p[2] * dt**2 - y_fit

    if start is None:
        c2, c1, c0 = np.polyfit(t_fit - t0, y_fit, 2)
        start = np.array([c0, c1, 2 * c2])
    sol = least_squares(residuals, start, loss=loss, f_scale=tol_px / 2)
    y0, v0, acc = sol.x
    if not acc_range[0] <= acc <= acc_range[1]:
        return None
    r = residuals(sol.x)
    dof = max(len(r) - 3, 1)
    sigma2 = float(r @ r) / dof
    try:
        cov = np.linalg.inv(sol.jac.T @ sol.jac) * sigma2
        acc_std = float(np.sqrt(max(cov[2, 2], 0.0)))
    except np.linalg.LinAlgError:
        acc_std = float("inf")
    return FreeFallFit(
        t0=t0,
        y0=float(y0),
        v0=float(v0),
        acc=float(acc),
        acc_std=acc_std,
        t_start=float(t_fit[0]),
        t_end=float(t_fit[-1]),
        inliers=frames.copy(),
        rmse_px=float(np.sqrt(np.mean(r**2))),
    )
