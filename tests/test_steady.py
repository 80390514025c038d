"""A camera that moves: measuring how far the scene shifts, holding frames still, and the slack of
the differences taken on frames held still."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from divekit.errors import DivekitError
from divekit.motion import colour_difference
from divekit.steady import PhaseCorrelator, aligned_to, camera_path, is_still, moved_back, scene_shifts
from divekit.synth import handheld_path
from divekit.video import VideoReader, VideoWriter


def texture(h: int = 96, w: int = 160, seed: int = 0) -> np.ndarray:
    """A grey scene with structure at every scale, as a pool's tiles, lines and walls give."""
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=(h, w)), 2.0) * 60 + 128


def test_a_whole_pixel_shift_is_found_exactly():
    scene = texture()
    moved = np.roll(scene, (-5, 3), axis=(0, 1))  # content 3 px right and 5 px up
    assert PhaseCorrelator(scene).shift(moved) == pytest.approx((3.0, -5.0), abs=0.02)


@pytest.mark.parametrize("shift", [(0.3, 0.0), (2.5, -1.25), (-0.6, 0.45), (7.7, 4.2)])
def test_a_fraction_of_a_pixel_is_found_to_a_twentieth(shift):
    scene = texture()
    moved = ndimage.shift(scene, (shift[1], shift[0]), order=3, mode="nearest")
    assert PhaseCorrelator(scene).shift(moved) == pytest.approx(shift, abs=0.05)


def test_near_keeps_a_repeating_pattern_to_the_period_it_was_in():
    # lane lines every 20 px: the content moved 3 px looks as if it had moved -17 px too
    stripes = np.tile(np.where(np.arange(160) % 20 < 4, 200.0, 60.0), (96, 1)) + texture() * 0.05
    moved = np.roll(stripes, 3, axis=1)
    corr = PhaseCorrelator(stripes)
    assert corr.shift(moved, near=(0.0, 0.0), reach=6.0)[0] == pytest.approx(3.0, abs=0.1)
    assert corr.shift(moved, near=(-16.0, 0.0), reach=6.0)[0] == pytest.approx(-17.0, abs=0.5)


def test_frames_are_aligned_again_with_a_reference():
    scene = np.repeat(texture()[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    off = np.stack([moved_back(scene, d) for d in [(2.6, -1.4), (-3.3, 1.8), (0.0, 0.0)]])
    back = aligned_to(scene, off)
    inner = (slice(None), slice(6, -6), slice(6, -6))
    assert np.abs(back.astype(int) - scene[None].astype(int))[inner].mean() < 1.0
    assert np.abs(off.astype(int) - scene[None].astype(int))[inner].mean() > 3.0


def test_moved_back_is_bilinear_and_repeats_the_edge():
    image = np.array([[0, 100, 200], [50, 150, 250]], dtype=np.uint8)[..., None]
    # out(x) = image(x + 0.5): halfway between each pixel and the next; the last repeats the edge
    out = moved_back(image, (0.5, 0.0))[..., 0]
    assert out.tolist() == [[50, 150, 200], [100, 200, 250]]
    # a quarter of a row down: 0.75 of this row and 0.25 of the next
    assert moved_back(image, (0.0, 0.25))[0, :, 0].tolist() == [13, 113, 213]  # 12.5, 112.5, 212.5 rounded up


def test_a_region_of_a_frame_moved_back_is_that_region_of_the_whole():
    frame = np.random.default_rng(1).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    whole = moved_back(frame, (3.4, -2.6))
    assert np.array_equal(moved_back(frame, (3.4, -2.6), (10, 50, 5, 20)), whole[5:20, 10:50])


def test_moved_back_undoes_a_move():
    scene = np.repeat(texture()[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
    there = moved_back(scene, (-2.0, 3.0))  # content 2 px right, 3 px up
    back = moved_back(there, (2.0, -3.0))
    assert np.array_equal(back[5:-5, 5:-5], scene[5:-5, 5:-5])


def test_still_means_half_the_frames_within_half_a_pixel():
    shifts = np.zeros((20, 2))
    shifts[3:9] = (3.0, 0.0)  # a body filling much of a plain picture pulls six frames in twenty
    assert is_still(shifts)
    shifts[9:14] = (0.0, 0.6)  # eleven in twenty beyond half a pixel: a camera that moves
    assert not is_still(shifts)
    assert is_still(np.zeros((0, 2)))


def test_the_slack_forgives_an_edge_a_fraction_of_a_pixel_off_but_not_a_body():
    reference = np.zeros((1, 6, 3), dtype=np.uint8)
    reference[:, 3:] = 100  # an edge: 0 | 100
    off = reference.copy()
    off[:, 2] = 40  # the edge held still 0.4 px off
    assert colour_difference(off, reference).max() == 40
    assert colour_difference(off, reference, slack_px=1).max() == 0
    body = reference.copy()
    body[:, 1] = 220  # nothing within 1 px of it is brighter than 0
    assert colour_difference(body, reference, slack_px=1)[0, 1] == 220
    body[:, 4] = 160  # beside the edge: 60 above the brightest (100) within 1 px
    assert colour_difference(body, reference, slack_px=1)[0, 4] == 60
    # half a pixel of slack: pixel 2 may be anything between 0 and the blend halfway to pixel 3 (50)
    assert colour_difference(off, reference, slack_px=0.5)[0, 2] == 0
    darker = reference.copy()
    darker[:, 3] = 30  # pixel 3 may be between 50 (halfway to pixel 2) and 100: 30 is 20 below
    assert colour_difference(darker, reference, slack_px=0.5)[0, 3] == 20


def test_the_hand_held_path_is_repeatable_and_bounded():
    times = np.linspace(0, 3, 91)
    a = handheld_path(times, 4.0, np.random.default_rng(5))
    assert np.array_equal(a, handheld_path(times, 4.0, np.random.default_rng(5)))
    assert np.abs(a).max() <= 4.0 * 1.7 and np.ptp(a[:, 0]) > 4.0  # it sways, within its three terms


def write_swayed(path, scene: np.ndarray, path_px: np.ndarray, times: np.ndarray) -> None:
    h, w = scene.shape[:2]
    with VideoWriter(path, w, h, crf=12) as out:
        for shift, t in zip(path_px, times, strict=True):
            out.write(moved_back(scene, -shift), float(t))  # content moved by +shift


@pytest.fixture(scope="module")
def pool_scene() -> np.ndarray:
    scene = np.stack([texture(128, 192, seed=k) for k in range(3)], axis=-1)
    return scene.clip(0, 255).astype(np.uint8)


def test_a_still_camera_is_found_still(tmp_path, pool_scene):
    times = np.arange(40) / 25
    write_swayed(tmp_path / "still.mp4", pool_scene, np.zeros((40, 2)), times)
    assert camera_path(tmp_path / "still.mp4") is None


def test_a_hand_held_camera_is_followed_to_a_fraction_of_a_pixel(tmp_path, pool_scene):
    times = np.arange(60) / 30
    sway = handheld_path(times, 4.0, np.random.default_rng(2))
    video = tmp_path / "handheld.mp4"
    write_swayed(video, pool_scene, sway, times)
    measured = camera_path(video)
    assert measured is not None and measured.shape == (60, 2)
    # measured against the clip's own empty scene: the same path, less a constant
    error = (measured - np.median(measured, axis=0)) - (sway - np.median(sway, axis=0))
    assert np.abs(error).max() < 0.3

    # held still by it, every frame shows the scene where one frame shows it
    reader = VideoReader(video, shifts=measured)
    frames = reader.read(np.arange(60))
    x0, x1, y0, y1 = reader.seen_region()
    drift = scene_shifts(frames[:, y0:y1, x0:x1], frames[0, y0:y1, x0:x1])
    assert np.abs(drift).max() < 0.3
    # the three ways of reading give the same frames
    assert np.array_equal(reader.read_region([7, 30], (10, 60, 20, 90)), frames[[7, 30], 20:90, 10:60])
    streamed = np.concatenate([f for _, f, _ in reader.iter_batches(16)])
    assert np.abs(streamed.astype(int) - frames).max() <= 1  # PyAV's and decord's pictures, to a grey level


def test_the_part_every_frame_shows(tmp_path, pool_scene):
    times = np.arange(4) / 25
    write_swayed(tmp_path / "c.mp4", pool_scene, np.zeros((4, 2)), times)
    shifts = np.array([[0.0, 0.0], [2.5, -1.0], [-3.2, 0.5], [1.0, 4.0]])
    # a 192x128 frame: moved back, pixel x shows x + dx and x + dx + 1, which must lie in 0..191
    assert VideoReader(tmp_path / "c.mp4", shifts=shifts).seen_region() == (4, 188, 1, 123)
    assert VideoReader(tmp_path / "c.mp4").seen_region() == (0, 192, 0, 128)
    with pytest.raises(DivekitError, match="4 frames, but 3 camera shifts"):
        VideoReader(tmp_path / "c.mp4", shifts=shifts[:3])


def test_the_background_of_a_hand_held_clip_is_the_scene_held_still(tmp_path, pool_scene):
    from test_cli import run

    from divekit.background import load_png, mean_absolute_error

    times = np.arange(60) / 30
    sway = handheld_path(times, 4.0, np.random.default_rng(3))
    write_swayed(tmp_path / "handheld.mp4", pool_scene, sway, times)
    assert run("background", tmp_path / "handheld.mp4", "-o", tmp_path / "bg", "-m", "median").exit_code == 0
    background = load_png(tmp_path / "bg" / "handheld.background.png")
    # the scene where the clip's own empty scene has it: moved by the path's median (the reference)
    expected = moved_back(pool_scene, -np.median(sway, axis=0))
    inner = (slice(12, -12), slice(12, -12))  # beyond the sway, frames repeat their edges
    assert mean_absolute_error(background[inner], expected[inner]) < 2.0
    blurred = np.median([moved_back(pool_scene, -s) for s in sway], axis=0).astype(np.uint8)
    assert mean_absolute_error(blurred[inner], expected[inner]) > 4.0  # what a still camera's median gives


def test_a_swaying_landscape_clip_is_framed_where_the_diver_is(tmp_path):
    from divekit.video import framing_for

    # a wide pool scene with strong edges at its left (lane ropes, tiles), and a square that falls at
    # its right; the camera sways by up to 7 px. Taken for still, the window went to the left edges.
    scene = np.stack([texture(128, 384, seed=k) for k in range(3)], axis=-1).clip(0, 255).astype(np.uint8)
    scene[:, :128] = np.where((np.arange(128) // 6) % 2, 40, 210)[None, :, None]
    times = np.arange(48) / 24
    sway = handheld_path(times, 4.0, np.random.default_rng(7))
    video = tmp_path / "wide.mp4"
    with VideoWriter(video, 384, 128, crf=12) as out:
        for k, (shift, t) in enumerate(zip(sway, times, strict=True)):
            frame = scene.copy()
            frame[10 + 2 * k : 22 + 2 * k, 300:312] = 250
            out.write(moved_back(frame, -shift), float(t))
    framing = framing_for(video, (64, 128), camera_path(video))
    x, _, w, _ = framing.window_in_source
    assert x <= 300 and 312 <= x + w
