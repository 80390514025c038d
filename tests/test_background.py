import numpy as np
import pytest

from divekit.background import (
    choose_method,
    estimate_background,
    load_png,
    mean_absolute_error,
    median_frame_budget,
    save_png,
    split_background,
)
from divekit.errors import DivekitError
from divekit.video import VideoReader


def test_median_removes_the_moving_diver(falling_square):
    image, used = estimate_background(VideoReader(falling_square.path), "median")
    assert used == "median"
    assert image.shape == falling_square.background.shape and image.dtype == np.uint8
    # what remains is the codec's own colour error (YUV 4:2:0), about the same in every decoded frame
    single = VideoReader(falling_square.path).read([0])[0]
    codec_floor = mean_absolute_error(single[64:], falling_square.background[64:])
    assert mean_absolute_error(image, falling_square.background) < codec_floor + 0.3
    # where the square passed, the median shows the scene, not the square (dark, 20)
    cx, cy = falling_square.centres[len(falling_square.centres) // 2].astype(int)
    assert image[cy, cx].min() > 40


def test_split_takes_bottom_of_first_and_top_of_last(falling_square):
    reader = VideoReader(falling_square.path)
    first, last = reader.read([0, len(reader) - 1])
    image = split_background(reader)
    np.testing.assert_array_equal(image[:64], last[:64])
    np.testing.assert_array_equal(image[64:], first[64:])
    assert mean_absolute_error(image, falling_square.background) < 3.0


def test_auto_rule():
    assert choose_method(15) == "median"
    assert choose_method(14) == "split"


def test_median_memory_budget_caps_the_frames():
    one_1080p = 1920 * 1080 * 3
    assert median_frame_budget(1920, 1080, 64, 256) == (256 * 2**20) // one_1080p
    assert median_frame_budget(64, 128, 64, 256) == 64
    assert median_frame_budget(1920, 1080, 64, 1) == 3


def test_unknown_method_is_an_error(falling_square):
    with pytest.raises(DivekitError, match="unknown background method"):
        estimate_background(VideoReader(falling_square.path), "mean")


def test_png_round_trip(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    save_png(image, tmp_path / "x.png")
    np.testing.assert_array_equal(load_png(tmp_path / "x.png"), image)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temporary left behind


def test_mae_by_hand():
    a = np.zeros((1, 2, 3), np.uint8)
    b = np.array([[[3, 0, 0], [0, 0, 255]]], np.uint8)
    assert mean_absolute_error(a, b) == pytest.approx((3 + 255) / 6)
