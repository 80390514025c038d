"""How wrong gravity-as-a-ruler is when the camera does not face the dive plane (paper S.3, Eq. 16-22).

A ballistic centre ``p(t) = ½ g t² + v0 t + p0`` (world, metres) seen by a pinhole camera moves in
the image as ``v(t) = cy + fy Y(t) / Z(t)`` with ``(X, Y, Z) = R p(t) + t`` in the camera frame
(x right, y down, z along the optical axis; see :mod:`divekit.calibration.camera`). When the dive
plane is parallel to the image plane, Z is constant and the image acceleration is the constant
``fy g / Z`` (Eq. 19). Otherwise Z changes during the flight and so does the image acceleration
(Eq. 22), and a constant-acceleration parabola fitted to the track gives a slightly wrong scale.

Two measures, both dimensionless:

- ``acc_variation``: (max - min) / |mean| of the image-plane vertical acceleration over the flight;
- ``scale_bias``: ``g / acc_fit`` (the metres per pixel that divekit measures, from a least-squares
  parabola through the projected track at uniformly spaced times) divided by the true vertical
  pixel size at the trajectory's mean depth, ``mean(Z) / fy``, minus 1.

:func:`yaw_bound` gives both to first order for a level camera yawed away from the dive plane.
Pure and shaped; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from divekit.calibration.camera import Camera

G = 9.81


@dataclass(frozen=True)
class PerspectiveError:
    """Result of :func:`perspective_error` (see the module docstring for the definitions)."""

    acc_variation: float  # (max - min) / |mean| of the image vertical acceleration over the flight
    scale_bias: float  # metres per pixel from the parabola fit / true metres per pixel - 1
    metres_per_pixel_fit: float  # g / fitted vertical acceleration
    metres_per_pixel_true: float  # mean camera depth of the trajectory / fy
    fit_rmse_px: float  # how far the projected track is from the fitted parabola


def ballistic(p0: np.ndarray, v0: np.ndarray, t: np.ndarray, g_vec: np.ndarray) -> np.ndarray:
    """World positions (N, 3) at times (N,) of ``p(t) = ½ g t² + v0 t + p0`` (Eq. 16)."""
    t = np.asarray(t, dtype=np.float64)[:, None]
    return 0.5 * np.asarray(g_vec, float) * t**2 + np.asarray(v0, float) * t + np.asarray(p0, float)


def image_acceleration(
    camera: Camera,
    p0: np.ndarray,
    v0: np.ndarray,
    t: np.ndarray,
    *,
    g: float = G,
    up: np.ndarray = (0.0, 1.0, 0.0),
) -> np.ndarray:
    """Exact second time derivative (N, 2) of the projected pixel position (u, v) (Eq. 20-22).

    ``p0``, ``v0`` (3,) are the world position and velocity at t = 0, ``up`` the world up
    direction (gravity is ``-g * up``), ``t`` (N,) seconds. Uses ``(X/Z)'' = X''/Z - 2 X' Z'/Z² -
    X Z''/Z² + 2 X Z'²/Z³`` on the camera-frame quadratic ``(X, Y, Z)(t)``.
    """
    t = np.asarray(t, dtype=np.float64)
    g_vec = -g * np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    P = camera.world_to_camera(ballistic(p0, v0, t, g_vec))  # (N, 3)
    dP = (camera.R @ (g_vec[:, None] * t[None, :] + np.asarray(v0, float)[:, None])).T  # (N, 3)
    ddP = camera.R @ g_vec  # (3,)
    Z, dZ, ddZ = P[:, 2], dP[:, 2], ddP[2]

    def second(i: int) -> np.ndarray:
        A, dA, ddA = P[:, i], dP[:, i], ddP[i]
        return ddA / Z - 2 * dA * dZ / Z**2 - A * ddZ / Z**2 + 2 * A * dZ**2 / Z**3

    return np.stack([camera.fx * second(0), camera.fy * second(1)], axis=-1)


def perspective_error(
    camera: Camera,
    p0: np.ndarray,
    v0: np.ndarray,
    flight_s: float,
    *,
    g: float = G,
    up: np.ndarray = (0.0, 1.0, 0.0),
    samples: int = 200,
) -> PerspectiveError:
    """Perspective error of gravity-as-a-ruler for one flight of ``flight_s`` seconds.

    ``p0``, ``v0`` (3,): world position (m) and velocity (m/s) at take-off; ``up``: world up.
    The flight is sampled at ``samples`` uniform times, as a constant frame rate would.
    """
    if not flight_s > 0:
        raise ValueError(f"flight_s must be positive, got {flight_s}")
    if samples < 4:
        raise ValueError(f"need at least 4 samples, got {samples}")
    t = np.linspace(0.0, flight_s, samples)
    g_vec = -g * np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
    P = camera.world_to_camera(ballistic(p0, v0, t, g_vec))
    if np.any(P[:, 2] <= 0):
        raise ValueError("the trajectory passes behind the camera")
    v = camera.project(P)[:, 1]
    acc = image_acceleration(camera, p0, v0, t, g=g, up=up)[:, 1]
    mean_acc = float(np.mean(acc))
    # fit in centred time for conditioning; the t² coefficient is ½ acc either way
    coef = np.polyfit(t - t.mean(), v, 2)
    acc_fit = 2 * coef[0]
    rmse = float(np.sqrt(np.mean((np.polyval(coef, t - t.mean()) - v) ** 2)))
    mpp_true = float(np.mean(P[:, 2])) / camera.fy
    mpp_fit = float(g / acc_fit) if acc_fit > 0 else float("inf")
    return PerspectiveError(
        acc_variation=float((acc.max() - acc.min()) / abs(mean_acc)),
        scale_bias=float(mpp_fit / mpp_true - 1),
        metres_per_pixel_fit=mpp_fit,
        metres_per_pixel_true=mpp_true,
        fit_rmse_px=rmse,
    )


def yaw_bound(yaw_rad: float, distance_m: float, horizontal_travel_m: float) -> tuple[float, float]:
    """First-order (acc_variation, |scale_bias|) for a level camera yawed by ``yaw_rad`` from the
    dive plane's normal, ``distance_m`` from the dive, the centre travelling ``horizontal_travel_m``.

    Why: with pure yaw, vertical motion keeps its depth and the horizontal travel ``x(t)`` changes
    it at ``Z' = vx sin(yaw)``. Then ``v = -fy y / Z`` gives ``a_v = (fy g / Z)(1 + 2 y' Z' / (g Z)
    + O(Z'²))`` (y up, metres). Over a flight of T seconds ``ln a_v`` changes by ``-3 Z' T / Z``
    (``-Z'T/Z`` from 1/Z, ``-2 Z'T/Z`` from y' falling by gT), hence ``acc_variation ≈ 3 d sin|yaw| / D``
    with ``d = vx T``. The least-squares parabola measures the acceleration at mid-flight, where
    Z is the mean depth and ``y' = vy - gT/2``, so ``scale_bias ≈ -2 Z' (vy - gT/2) / (g D)``;
    its size ``d sin|yaw| / D * |2 vy / (gT) - 1|`` is at most ``d sin|yaw| / D`` for any flight
    that ends below its take-off height (``gT >= 2 vy >= 0``). Pitch and roll are not covered:
    use :func:`perspective_error` for a general camera.
    """
    if not distance_m > 0:
        raise ValueError(f"distance_m must be positive, got {distance_m}")
    r = abs(horizontal_travel_m) * abs(math.sin(yaw_rad)) / distance_m
    return 3 * r, r
