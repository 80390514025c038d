"""Working frames cut from videos of another aspect (divekit.framing, divekit.video.framing_for)."""

from __future__ import annotations

import numpy as np
import pytest

from divekit.framing import Framing, busiest_window
from divekit.video import VideoReader, VideoWriter, framing_for


def test_a_landscape_video_keeps_its_height_and_gives_a_window_of_its_width():
    f = Framing.keep_aspect((1920, 1080), (256, 512))
    # 1920 x 512/1080 = 910.2 -> 910 wide; the window centred in the 654 px of room
    assert f.scaled == (910, 512) and f.offset == (327, 0) and f.size == (256, 512) and f.cuts
    assert Framing.keep_aspect((1920, 1080), (256, 512), place=0.0).offset == (0, 0)
    assert Framing.keep_aspect((1920, 1080), (256, 512), place=1.0).offset == (654, 0)
    # taller than the working aspect: never cut along the height, where the dive runs; grey bars
    # beside it (300 x 512/1200 = 128 wide, 64 px of bar on each side)
    tall = Framing.keep_aspect((300, 1200), (256, 512), place=0.25)
    assert tall.scaled == (128, 512) and tall.offset == (-64, 0) and not tall.cuts and not tall.plain
    image = np.full((512, 128, 3), 7, dtype=np.uint8)
    barred = tall.cut(image)
    assert barred.shape == (512, 256, 3) and (barred[:, :64] == 128).all() and (barred[:, 64:192] == 7).all()
    assert (barred[:, 192:] == 128).all()
    # x: (64 - 64) * 300 / 128 = 0, the video's left edge; the box of the bars is not a cut edge
    np.testing.assert_allclose(tall.to_source([[64.0, 256.0]]), [[0.0, 600.0]])
    assert not tall.at_cut_edge(np.array([[10.0, 256.0, 20.0, 40.0]])).any()


def test_a_video_of_the_working_aspect_is_scaled_whole():
    assert Framing.keep_aspect((512, 1024), (256, 512)) == Framing((512, 1024), (256, 512), (0, 0), (256, 512))
    # 1 % off the aspect: scaled whole, as before (a 2 % stretch turns the picture by under a degree)
    assert Framing.keep_aspect((1080, 2160 - 21), (256, 512)).plain
    assert Framing.keep_aspect((1080, 1920), (256, 512)).cuts  # 9:16 is 12 % off 1:2


def test_points_and_boxes_map_to_the_source_and_back_by_hand():
    f = Framing((1920, 1080), (910, 512), (327, 0), (256, 512))
    # x: (128 + 327) * 1920 / 910 = 960; y: 256 * 1080 / 512 = 540
    np.testing.assert_allclose(f.to_source([[128.0, 256.0]]), [[960.0, 540.0]])
    np.testing.assert_allclose(f.to_source([[0.0, 0.0]]), [[327 * 1920 / 910, 0.0]])
    box = np.array([[128.0, 256.0, 10.0, 20.0]])
    np.testing.assert_allclose(f.boxes_to_source(box), [[960.0, 540.0, 10 * 1920 / 910, 20 * 1080 / 512]])
    np.testing.assert_allclose(f.boxes_from_source(f.boxes_to_source(box)), box)
    pts = np.random.default_rng(0).uniform(0, 500, size=(3, 13, 2))
    np.testing.assert_allclose(f.from_source(f.to_source(pts)), pts)
    # the whole frame is a plain scaling
    np.testing.assert_allclose(Framing.whole((512, 1024), (256, 512)).to_source([[10.0, 20.0]]), [[20.0, 40.0]])


def test_the_window_in_the_video_and_boxes_at_its_cut_edges():
    f = Framing((1920, 1080), (910, 512), (327, 0), (256, 512))
    # x 327 * 1920 / 910 = 689.93, width 256 * 1920 / 910 = 540.13, the full height
    assert f.window_in_source == pytest.approx((689.93, 0.0, 540.13, 1080.0), abs=0.005)
    boxes = np.array([[128.0, 256.0, 40, 80], [20.0, 256.0, 40, 80], [240.0, 256.0, 40, 80], [128.0, 40.0, 40, 80]])
    # the second reaches x = 0, the third x = 260 > 256; the top and bottom are the frame's own edges
    np.testing.assert_array_equal(f.at_cut_edge(boxes), [False, True, True, False])
    left = Framing((1920, 1080), (910, 512), (0, 0), (256, 512))  # the window at the frame's left edge
    np.testing.assert_array_equal(left.at_cut_edge(boxes), [False, False, True, False])
    assert not Framing.whole((256, 512)).at_cut_edge(boxes).any()


def test_cut_and_apply_take_the_window():
    f = Framing((8, 4), (8, 4), (3, 0), (2, 4))
    image = np.arange(4 * 8 * 3, dtype=np.uint8).reshape(4, 8, 3)
    np.testing.assert_array_equal(f.apply(image), image[:, 3:5])
    with pytest.raises(AssertionError):
        Framing((8, 4), (8, 4), (7, 0), (2, 4))  # the window must lie in the frame


def test_busiest_window_holds_the_most_activity():
    # 8 cells, a window of 2: the activity is in cells 4-5, so the start is 4 of the room of 6
    assert busiest_window(np.array([0, 0, 0, 0, 5, 5, 0, 0]), 2) == pytest.approx(4 / 6)
    assert busiest_window(np.array([9, 1, 0, 0, 0, 0, 0, 0]), 2) == pytest.approx(0.0)
    assert busiest_window(np.zeros(8), 2) == 0.5  # nothing moves: the centre
    assert busiest_window(np.ones(8), 8) == 0.5  # no room
    # a run of equally good starts (1-3): its middle
    assert busiest_window(np.array([0, 0, 0, 7, 0, 0, 0, 0]), 3) == pytest.approx(2 / 5)


@pytest.fixture(scope="module")
def landscape_clip(tmp_path_factory):
    """128x64, a textured scene with a dark square falling in its right quarter."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:128]
    scene = np.stack([90 + 30 * np.sin(xx / 4.0), 120 + 25 * np.cos(yy / 5.0), 150 + 0 * xx], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("land") / "land.mp4"
    with VideoWriter(path, 128, 64, crf=18) as writer:
        for k in range(30):
            frame = scene.copy()
            y = 4 + int(0.06 * k * k)
            frame[y : y + 6, 100:106] = 20
            noise = rng.integers(-2, 3, frame.shape)
            writer.write(np.clip(frame.astype(int) + noise, 0, 255).astype(np.uint8), k / 30)
    return path


def test_framing_for_puts_the_window_where_the_video_moves(landscape_clip):
    f = framing_for(landscape_clip, (16, 32))
    # 128x64 scaled to 64x32 without distortion; the 16 px window holds the square (x 100-106 -> 50-53)
    assert f.scaled == (64, 32) and f.size == (16, 32)
    assert f.offset[0] <= 50 and f.offset[0] + 16 >= 53 and f.offset[1] == 0


def test_a_framed_reader_gives_the_window_of_the_scaled_frames(landscape_clip):
    f = framing_for(landscape_clip, (16, 32))
    framed = VideoReader(landscape_clip, framing=f)
    scaled = VideoReader(landscape_clip, size=f.scaled)
    assert (framed.info.width, framed.info.height) == (16, 32) and framed.info.framing == f
    idx = [0, 7, 29]
    np.testing.assert_array_equal(framed.read(idx), scaled.read(idx)[:, :, f.offset[0] : f.offset[0] + 16])
    streamed = np.concatenate([frames for _, frames, _ in framed.iter_batches(8)])
    assert streamed.shape == (30, 32, 16, 3)
    assert np.abs(streamed[idx].astype(int) - framed.read(idx)).mean() < 2  # PyAV's scaler against decord's


def test_training_clips_are_framed_and_their_boxes_written_in_the_video_pixels(landscape_clip):
    from divekit.data import load_clip
    from divekit.inference import boxes_dataframe, pixels_to_boxes

    clip = load_clip(landscape_clip, (16, 32))
    assert clip.frames.shape == (30, 32, 16, 3) and clip.background.shape == (32, 16, 3)
    assert clip.framing.cuts and clip.source_size == (128, 64)
    # a box at the window's centre, 4x8 working px, is at 2 x (offset + 8) in the 128x64 video, 8x16 px
    centre = pixels_to_boxes(np.array([[8.0, 16.0, 4.0, 8.0]]), clip.size)
    row = boxes_dataframe(clip, np.repeat(centre, len(clip), axis=0)).iloc[0]
    ox = clip.framing.offset[0]
    assert (row.box_cx, row.box_cy, row.box_w, row.box_h) == pytest.approx((2 * (ox + 8), 32.0, 8.0, 16.0))


def test_a_tall_video_is_read_between_grey_bars(tmp_path):
    path = tmp_path / "tall.mp4"
    scene = np.full((128, 40, 3), 60, dtype=np.uint8)
    with VideoWriter(path, 40, 128, crf=18) as writer:
        for k in range(6):
            writer.write(scene, k / 30)
    # 40x128 scaled to 64 high is 20 wide: between bars of 6 px in the 32 px working width
    # (decord cannot scale to some small widths, 16 and 24 among them; 20 it can)
    f = framing_for(path, (32, 64))
    assert f == Framing((40, 128), (20, 64), (-6, 0), (32, 64))
    reader = VideoReader(path, framing=f)
    frames = reader.read([0, 5])
    streamed = np.concatenate([batch for _, batch, _ in reader.iter_batches(4)])
    for image in (frames[0], streamed[5]):
        assert image.shape == (64, 32, 3)
        assert (image[:, :6] == 128).all() and (image[:, 26:] == 128).all()
        assert np.abs(image[:, 6:26].astype(int) - 60).max() <= 3
