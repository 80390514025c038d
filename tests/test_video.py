import numpy as np
import pytest

from divekit.errors import DivekitError
from divekit.video import VideoReader, VideoWriter, find_videos, quantize_time


def test_variable_frame_rate_timestamps_come_from_the_container(falling_square):
    reader = VideoReader(falling_square.path)
    assert len(reader) == len(falling_square.times)
    # steps switch from 1/30 to 1/60 s: index / fps would be off by a large fraction of a second
    assert np.abs(reader.timestamps - falling_square.times).max() < 1e-4
    steps = np.diff(reader.timestamps)
    assert steps.max() / steps.min() > 1.9
    naive = np.arange(len(reader)) / reader.info.nominal_fps
    assert np.abs(naive - falling_square.times).max() > 0.05


def test_frames_are_rgb_uint8_and_match_the_scene(falling_square):
    reader = VideoReader(falling_square.path)
    frames = reader.read([0, 5])
    assert frames.shape == (2, 128, 64, 3) and frames.dtype == np.uint8
    # far from the square the decoded frame is the background (within noise and compression)
    err = np.abs(frames[0, 64:, :].astype(int) - falling_square.background[64:, :].astype(int)).mean()
    assert err < 4


def test_resize_to_working_resolution(falling_square):
    reader = VideoReader(falling_square.path, size=(32, 64))
    assert (reader.info.width, reader.info.height) == (32, 64)
    assert (reader.info.source_width, reader.info.source_height) == (64, 128)
    assert reader.read([3]).shape == (1, 64, 32, 3)


def test_streaming_covers_every_frame_once_in_bounded_batches(falling_square):
    reader = VideoReader(falling_square.path)
    seen, times = [], []
    for idx, frames, t in reader.iter_batches(batch_size=7):
        assert len(frames) <= 7 and len(idx) == len(frames) == len(t)
        seen.extend(idx.tolist())
        times.extend(t.tolist())
    assert seen == list(range(len(reader)))
    np.testing.assert_allclose(times, reader.timestamps)


def test_streamed_frames_are_the_frames_read_by_index(falling_square):
    # streaming decodes in order with PyAV (decord's read-ahead held hundreds of frames); at the
    # source size it gives exactly what random access gives, from any start
    reader = VideoReader(falling_square.path)
    streamed = np.concatenate([f for _, f, _ in reader.iter_batches(batch_size=16, start=3, stop=30)])
    np.testing.assert_array_equal(streamed, reader.read(np.arange(3, 30)))
    # resized, within 2 grey levels on average (two resamplers; 1.06 on this sharp-edged square)
    small = VideoReader(falling_square.path, size=(32, 64))
    streamed = np.concatenate([f for _, f, _ in small.iter_batches(batch_size=16)])
    assert np.abs(streamed.astype(int) - small.read(np.arange(len(small))).astype(int)).mean() < 2.0


def test_sample_evenly_is_even_in_time_not_index(falling_square):
    reader = VideoReader(falling_square.path)
    idx = reader.sample_evenly(5)
    t = reader.timestamps[idx]
    # the second half of the clip is at 60 fps: even-in-time picks more indices from it
    assert t[0] == reader.timestamps[0] and t[-1] == reader.timestamps[-1]
    assert np.ptp(np.diff(t)) < 0.05


def test_duration_and_info(falling_square):
    info = VideoReader(falling_square.path).info
    assert info.frame_count == 40
    assert info.duration_s == pytest.approx(falling_square.times[-1] - falling_square.times[0], abs=0.04)


@pytest.mark.parametrize(
    ("kind", "message"),
    [("missing", "no such video"), ("text", "not a video"), ("empty", "no video frames")],
)
def test_bad_videos_give_one_clear_error(bad_videos, kind, message):
    with pytest.raises(DivekitError, match=message):
        VideoReader(bad_videos[kind])


def test_out_of_range_index_is_an_error(falling_square):
    with pytest.raises(DivekitError, match="out of range"):
        VideoReader(falling_square.path).read([10_000])


def test_writer_rejects_decreasing_times_and_wrong_shapes(tmp_path):
    with VideoWriter(tmp_path / "w.mp4", 32, 32) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8), 0.0)
        with pytest.raises(ValueError, match="increase"):
            writer.write(np.zeros((32, 32, 3), np.uint8), 0.0)
        with pytest.raises(ValueError, match="expected"):
            writer.write(np.zeros((16, 32, 3), np.uint8), 1.0)
    with pytest.raises(DivekitError, match="even"):
        VideoWriter(tmp_path / "odd.mp4", 33, 32)


def test_quantize_time_is_the_stored_tick():
    assert quantize_time(1 / 3) == pytest.approx(30000 / 90000)


def test_find_videos_expands_folders(tmp_path, falling_square):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert find_videos([tmp_path]) == [tmp_path / "a.mp4"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DivekitError, match="no videos"):
        find_videos([empty])
    with pytest.raises(DivekitError, match="no such file"):
        find_videos([tmp_path / "nope"])
