import numpy as np
import pytest

from divekit.calibration.freefall import _longest_run, fit_free_fall, robust_free_fall


def dive_track(seed: int = 1, variable: bool = True):
    """Standing at y=100 px until 0.8 s, free fall (v0 = -150 px/s, a = 400 px/s²) until 2.6 s, then still."""
    rng = np.random.default_rng(seed)
    steps = rng.uniform(1 / 60, 1 / 25, 119) if variable else np.full(119, 1 / 30)
    t = np.concatenate([[0.0], np.cumsum(steps)])
    tk, te = 0.8, 2.6
    fall = lambda s: 100 - 150 * (s - tk) + 0.5 * 400 * (s - tk) ** 2  # noqa: E731
    y = np.where(t < tk, 100.0, fall(t))
    y = np.where(t > te, fall(te) + 5, y) + rng.normal(0, 0.7, t.shape)
    return t, y


def test_finds_the_flight_and_its_acceleration_on_variable_frame_times():
    t, y = dive_track()
    y[50] += 40  # one wild detection inside the flight
    fit = robust_free_fall(t, y, tol_px=3)
    assert fit.acc == pytest.approx(400, rel=0.01)
    assert fit.acc_std < 2
    assert fit.t_start == pytest.approx(0.8, abs=0.05)
    assert fit.t_end == pytest.approx(2.6, abs=0.05)
    assert not fit.inliers[50]
    assert fit.rmse_px < 1.2
    # apex of y = 100 - 150 s + 200 s² (s = t - 0.8) is at s = 150 / 400
    assert fit.apex_time == pytest.approx(0.8 + 150 / 400, abs=0.02)
    assert fit(0.8) == pytest.approx(100, abs=1.5)


def test_exact_parabola_by_hand():
    # y = 10 + 2 t + 0.5 * 8 t², sampled at t = 0..9: acceleration 8 exactly
    t = np.arange(10.0)
    y = 10 + 2 * t + 4 * t**2
    fit = robust_free_fall(t, y, tol_px=0.5)
    assert fit.acc == pytest.approx(8.0, abs=1e-6)
    assert fit.v0 == pytest.approx(2.0, abs=1e-6) and fit.y0 == pytest.approx(10.0, abs=1e-6)
    assert fit.inliers.all()


def test_ordinary_least_squares_fit_by_hand():
    # y = t² + (0, 0, 0, 1) at t = 0..3. The residual of a quadratic fit to 4 equally spaced points
    # is the cubic (-1, 3, -3, 1) component: (1/20)(-1, 3, -3, 1). The fitted values
    # (0.05, 0.85, 4.15, 9.95) have second differences 2.5: acceleration 2.5 px/s².
    t = np.arange(4.0)
    y = t**2 + np.array([0.0, 0.0, 0.0, 1.0])
    fit = fit_free_fall(t, y, np.ones(4, bool), loss="linear")
    assert fit.acc == pytest.approx(2.5, abs=1e-6)
    assert fit(t) == pytest.approx([0.05, 0.85, 4.15, 9.95], abs=1e-6)
    assert fit.rmse_px == pytest.approx(np.sqrt(20 / 400 / 4), abs=1e-6)
    assert (fit.t_start, fit.t_end) == (0.0, 3.0) and fit.inliers.all()
    assert fit_free_fall(t, y, np.array([True, True, False, False])) is None  # fewer than 3 frames


def test_no_free_fall_gives_none():
    t = np.linspace(0, 2, 60)
    assert robust_free_fall(t, np.full(60, 50.0), tol_px=2) is None  # still: acceleration 0 is out of range
    assert robust_free_fall(t[:4], t[:4] ** 2, tol_px=2) is None  # too few points
    assert robust_free_fall(t, np.full(60, np.nan), tol_px=2) is None


def test_acceleration_range_rejects_rising_fits():
    t = np.linspace(0, 1, 30)
    y = 100 - 0.5 * 300 * t**2  # accelerating *up* the image
    assert robust_free_fall(t, y, tol_px=1) is None


def test_longest_run_allows_short_gaps():
    mask = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1], bool)
    assert _longest_run(mask, max_gap=2) == (5, 10, 4)
    assert _longest_run(mask, max_gap=3) == (0, 10, 6)
    assert _longest_run(np.zeros(5, bool), 2) == (0, 0, 0)


def test_a_short_flight_in_a_long_video_is_found():
    # a minute at 30 fps of a diver standing (1 px of noise), with one 1.2 s flight: three frames
    # drawn from the whole track all lie in the flight once in some 125,000 draws
    rng = np.random.default_rng(3)
    t = np.arange(1800) / 30
    s = np.clip(t - 30.0, 0.0, 1.2)
    y = 300 - 150 * s + 0.5 * 490.5 * s**2 + rng.normal(0, 1, len(t))
    y[t > 31.2] = np.nan  # under water
    fit = robust_free_fall(t, y, tol_px=3.0, acc_range=(200.0, 2000.0))
    assert fit is not None
    assert fit.acc == pytest.approx(490.5, rel=0.05)
    assert fit.t_start == pytest.approx(30.0, abs=0.1) and fit.t_end == pytest.approx(31.2, abs=0.05)
