import numpy as np
import pytest

from divekit.calibration.freefall import robust_free_fall
from divekit.report_plots import plot_height, plot_rotation, plot_skeleton_strip
from divekit.skeleton import J

# 30 fps, standing at y = 300 px until 0.5 s, then a 1 s flight at 490.5 px/s² (0.02 m/px)
T = np.arange(60) / 30
S = np.clip(T, 0.5, 1.5) - 0.5
Y = 300 - 150 * S + 0.5 * 490.5 * S**2 + np.random.default_rng(0).normal(0, 0.5, 60)
FLIGHT = (T >= 0.5) & (T <= 1.5)


def stick(n: int, turns: float) -> np.ndarray:
    """(n, 13, 3) camera-frame poses of a straight body somersaulting about camera z."""
    p = np.zeros((13, 3))
    p[J["head"]] = [0.0, -0.75, 0.0]
    for side, x in (("left", -1.0), ("right", 1.0)):
        p[J[f"{side}_shoulder"]], p[J[f"{side}_elbow"]] = [0.2 * x, -0.5, 0.0], [0.25 * x, -0.2, 0.0]
        p[J[f"{side}_wrist"]], p[J[f"{side}_hip"]] = [0.25 * x, 0.05, 0.0], [0.1 * x, 0.0, 0.0]
        p[J[f"{side}_knee"]], p[J[f"{side}_ankle"]] = [0.1 * x, 0.45, 0.05], [0.1 * x, 0.9, 0.0]
    a = 2 * np.pi * turns * np.linspace(0, 1, n)
    c, s = np.cos(a), np.sin(a)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1], rot[:, 2, 2] = c, -s, s, c, 1.0
    return p @ np.swapaxes(rot, 1, 2) + np.array([0.0, 0.0, 10.0])


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert not list(path.parent.glob(".*.part*"))  # written atomically, nothing left behind


@pytest.mark.parametrize("scale", [0.02, None])
def test_height_with_a_flight(tmp_path, scale):
    fit = robust_free_fall(T, Y, tol_px=3.0)
    assert fit is not None
    plot_height(T, Y, FLIGHT, fit, scale, tmp_path / "height.png")
    assert_png(tmp_path / "height.png")


def test_height_without_a_flight(tmp_path):
    y = np.full(60, 300.0)
    y[:5] = np.nan
    plot_height(T, y, np.zeros(60, bool), None, 0.02, tmp_path / "height.png")
    assert_png(tmp_path / "height.png")
    with pytest.raises(ValueError):
        plot_height(T, y[:10], np.zeros(60, bool), None, None, tmp_path / "bad.png")


def test_rotation(tmp_path):
    angle = np.where(FLIGHT, np.clip(T - 0.5, 0, 1) * -900.0, np.nan)
    plot_rotation(T, angle, tmp_path / "rotation.png")
    assert_png(tmp_path / "rotation.png")
    plot_rotation(T, np.full(60, np.nan), tmp_path / "none.png")
    assert_png(tmp_path / "none.png")


def test_skeleton_strip_over_the_flight_and_the_clip(tmp_path):
    poses = stick(60, 1.5)
    poses[20] = np.nan
    plot_skeleton_strip(poses, FLIGHT, tmp_path / "strip.png", times=T)
    assert_png(tmp_path / "strip.png")
    plot_skeleton_strip(poses, np.zeros(60, bool), tmp_path / "clip.png", count=3, view="depth")
    assert_png(tmp_path / "clip.png")
    plot_skeleton_strip(np.full((60, 13, 3), np.nan), FLIGHT, tmp_path / "empty.png")
    assert_png(tmp_path / "empty.png")
    with pytest.raises(ValueError):
        plot_skeleton_strip(poses, FLIGHT, tmp_path / "bad.png", view="top")
