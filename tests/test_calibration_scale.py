import math

import pytest

from divekit.calibration.scale import acc_range_from_box, acceleration_px, metres_per_pixel


def test_metres_per_pixel_by_hand():
    # a fall accelerating at 490.5 px/s² is 9.81 / 490.5 = 0.02 m per pixel
    value, std = metres_per_pixel(490.5)
    assert value == pytest.approx(0.02) and std is None
    # first-order propagation: g * std / acc² = 9.81 * 4.905 / 490.5² = 0.0002 (1 % of acc -> 1 % of scale)
    value, std = metres_per_pixel(490.5, 4.905)
    assert std == pytest.approx(0.0002)
    assert metres_per_pixel(100.0, 0.0, g=10.0) == (0.1, 0.0)


def test_metres_per_pixel_inverse():
    assert acceleration_px(0.02) == pytest.approx(490.5)
    assert metres_per_pixel(acceleration_px(0.0137))[0] == pytest.approx(0.0137)


@pytest.mark.parametrize("acc", [0.0, -5.0, math.inf, math.nan])
def test_metres_per_pixel_rejects_non_falling_accelerations(acc):
    with pytest.raises(ValueError, match="acceleration"):
        metres_per_pixel(acc)


def test_metres_per_pixel_rejects_negative_std():
    with pytest.raises(ValueError, match="std"):
        metres_per_pixel(100.0, -1.0)


def test_acc_range_from_box_by_hand():
    # a 200 px box of 0.5 to 3.5 m: 0.0025 to 0.0175 m/px, i.e. 9.81 * 200 / 3.5 to 9.81 * 200 / 0.5 px/s²
    lo, hi = acc_range_from_box(200.0)
    assert lo == pytest.approx(560.571, abs=1e-3) and hi == pytest.approx(3924.0)
    with pytest.raises(ValueError):
        acc_range_from_box(0.0)
    with pytest.raises(ValueError):
        acc_range_from_box(100.0, extent_m=(2.0, 1.0))
