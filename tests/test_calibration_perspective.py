import math

import numpy as np
import pytest

from divekit.calibration.camera import look_at
from divekit.calibration.perspective import (
    ballistic,
    image_acceleration,
    perspective_error,
    yaw_bound,
)

# A drop (vy = 0) moving 1 m/s along the dive for 2 s: 2 m of travel, seen from 20 m.
P0 = np.array([0.0, 10.0, 0.0])
V0 = np.array([1.0, 0.0, 0.0])
T = 2.0
D = 20.0
MID = ballistic(P0, V0, np.array([T / 2]), np.array([0.0, -9.81, 0.0]))[0]


def yawed_camera(yaw_rad: float, pitch_rad: float = 0.0):
    """A level camera D metres from mid-flight whose optical axis is yawed from the dive plane's normal."""
    axis = np.array([math.sin(yaw_rad) * math.cos(pitch_rad), -math.sin(pitch_rad), -math.cos(yaw_rad)])
    axis /= np.linalg.norm(axis)
    return look_at(MID - D * axis, MID, fx=1000.0, width=1000, height=1000)


def test_parallel_camera_has_no_error():
    err = perspective_error(yawed_camera(0.0), P0, V0, T)
    assert err.acc_variation == pytest.approx(0.0, abs=1e-9)
    assert err.scale_bias == pytest.approx(0.0, abs=1e-9)
    assert err.metres_per_pixel_true == pytest.approx(D / 1000.0)
    assert err.fit_rmse_px < 1e-9


def test_error_grows_with_the_angle():
    errs = [perspective_error(yawed_camera(math.radians(a)), P0, V0, T) for a in (2, 5, 10, 20)]
    variation = [e.acc_variation for e in errs]
    bias = [abs(e.scale_bias) for e in errs]
    assert variation == sorted(variation) and bias == sorted(bias)
    assert variation[0] > 1e-4 and bias[0] > 1e-4
    # pitch (the optical axis tilted off the vertical dive plane) matters too
    assert perspective_error(yawed_camera(0.0, math.radians(3)), P0, V0, T).acc_variation > 1e-3


def test_hand_worked_yaw_case_matches_the_numbers_and_the_bound():
    # sin(yaw) = 0.1: the depth grows at Z' = vx sin(yaw) = 0.1 m/s around Z = 20 m.
    # acc_variation ~ 3 Z' T / Z = 3 * 0.1 * 2 / 20 = 0.03.
    # The parabola fit measures mid-flight, where y' = vy - gT/2 = -9.81 m/s:
    # a_fit / (fy g / Z) = 1 + 2 y' Z' / (g Z) = 1 - 2 * 0.1 / 20 = 0.99, so the scale is 1/0.99 - 1 ~ +1.0 % off.
    yaw = math.asin(0.1)
    err = perspective_error(yawed_camera(yaw), P0, V0, T, samples=400)
    assert err.acc_variation == pytest.approx(0.03, rel=0.02)
    assert err.scale_bias == pytest.approx(1 / 0.99 - 1, rel=0.02)
    var_bound, bias_bound = yaw_bound(yaw, D, 2.0)
    assert var_bound == pytest.approx(0.03) and bias_bound == pytest.approx(0.01)
    assert err.acc_variation == pytest.approx(var_bound, rel=0.02)
    assert abs(err.scale_bias) == pytest.approx(bias_bound, rel=0.02)


def test_image_acceleration_matches_finite_differences():
    cam = yawed_camera(math.radians(15), math.radians(5))
    t = np.linspace(0.1, 1.9, 7)
    h = 1e-3
    g_vec = np.array([0.0, -9.81, 0.0])

    def uv(tt):
        return cam.project_world(ballistic(P0, V0, tt, g_vec))

    numeric = (uv(t + h) - 2 * uv(t) + uv(t - h)) / h**2
    np.testing.assert_allclose(image_acceleration(cam, P0, V0, t), numeric, rtol=1e-4, atol=1e-3)
    # fronto-parallel: the constant fy g / Z of Eq. 19
    flat = image_acceleration(yawed_camera(0.0), P0, V0, t)
    np.testing.assert_allclose(flat[:, 1], 1000.0 * 9.81 / D)
    np.testing.assert_allclose(flat[:, 0], 0.0, atol=1e-9)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        perspective_error(yawed_camera(0.0), P0, V0, 0.0)
    with pytest.raises(ValueError):
        yaw_bound(0.1, 0.0, 2.0)
    behind = look_at(MID + np.array([0.0, 0.0, 0.5]), MID + np.array([0.0, 0.0, 1.0]), fx=100.0, width=10, height=10)
    with pytest.raises(ValueError, match="behind"):
        perspective_error(behind, P0, V0, T)
