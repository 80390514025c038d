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


def test_sizes_decord_cannot_scale_to_are_read_with_pyav(falling_square):
    # decord refuses some widths ("The size must exactly match" at 48 px) and the file looked corrupt
    reader = VideoReader(falling_square.path, size=(48, 96))
    frames = reader.read([0, 9])
    assert frames.shape == (2, 96, 48, 3)
    streamed = np.concatenate([f for _, f, _ in reader.iter_batches(batch_size=16)])
    np.testing.assert_array_equal(frames, streamed[[0, 9]])


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


def test_region_reads_are_the_frames_read_by_index_cut(falling_square):
    # any order, repeats, at the source size and resized (within 2 grey levels: two resamplers)
    idx = [20, 3, 3, 39, 0]
    reader = VideoReader(falling_square.path)
    np.testing.assert_array_equal(reader.read_region(idx, (5, 50, 10, 100)), reader.read(idx)[:, 10:100, 5:50])
    small = VideoReader(falling_square.path, size=(32, 64))
    cut = small.read_region(idx, (4, 28, 8, 60)).astype(int)
    assert cut.shape == (5, 52, 24, 3)
    assert np.abs(cut - small.read(idx)[:, 8:60, 4:28]).mean() < 2.0


def _numbered_clip(path, frames: int, start_s: float, keyframe_every: int):
    """A clip whose frame k is grey level 4k, starting at ``start_s`` s, with a keyframe every few
    frames (so a read seeks), written with PyAV directly."""
    import fractions

    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.gop_size = keyframe_every
        stream.time_base = fractions.Fraction(1, 90000)
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 4 * k, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round((start_s + k / 25) * 90000), stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_region_reads_seek_and_know_each_frame_by_its_time(tmp_path, monkeypatch):
    # the container's clock starts at 1 s and decord's index at 0: frame 37 is still frame 37
    clip = _numbered_clip(tmp_path / "late.mp4", 60, start_s=1.0, keyframe_every=5)
    reader = VideoReader(clip)
    assert reader.timestamps[0] == 0.0
    monkeypatch.setattr(reader, "_av_frames", lambda: pytest.fail("decoded from the start, not after a seek"))
    levels = reader.read_region([37, 41, 52, 37], (0, 32, 0, 32)).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(levels, [148, 164, 208, 148], atol=2)


def test_region_reads_decode_from_the_start_when_times_do_not_match(tmp_path, monkeypatch):
    clip = _numbered_clip(tmp_path / "n.mp4", 30, start_s=0.0, keyframe_every=5)
    reader = VideoReader(clip)
    seek = reader._seek_and_decode
    monkeypatch.setattr(reader, "_seek_and_decode", lambda first: ((None, frame) for _, frame in seek(first)))
    levels = reader.read_region([12, 21], (0, 32, 0, 32)).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(levels, [48, 84], atol=2)


def test_a_video_decord_cannot_open_is_indexed_and_read_with_pyav(falling_square, monkeypatch):
    # decord's FFmpeg has no AV1 decoder, PyAV's has: the index comes from the packets instead
    import decord

    known = VideoReader(falling_square.path)
    monkeypatch.setattr(decord, "VideoReader", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no decoder")))
    reader = VideoReader(falling_square.path)
    assert len(reader) == len(known) and reader.info.nominal_fps == pytest.approx(known.info.nominal_fps)
    np.testing.assert_allclose(reader.timestamps, known.timestamps, atol=1e-6)  # variable rate
    np.testing.assert_array_equal(reader.read([0, 5, 39]), known.read([0, 5, 39]))
    streamed = np.concatenate([f for _, f, _ in reader.iter_batches(batch_size=16)])
    np.testing.assert_array_equal(streamed, known.read(np.arange(len(known))))
    assert VideoReader(falling_square.path, size=(32, 64)).read([7]).shape == (1, 64, 32, 3)


def test_a_video_rewritten_in_place_is_read_at_its_new_size(tmp_path):
    # the upright size is kept per file between opens; a new file at the same path is measured again
    clip = tmp_path / "same_name.mp4"
    for width, height in ((32, 64), (64, 32)):
        with VideoWriter(clip, width, height) as writer:
            for k in range(3):
                writer.write(np.full((height, width, 3), 60 * k, np.uint8), k / 25)
        reader = VideoReader(clip)
        assert (reader.info.source_width, reader.info.source_height) == (width, height)
        assert reader.read([1]).shape == (1, height, width, 3)


def test_a_phone_clip_stored_sideways_is_read_upright_by_every_path(tmp_path, monkeypatch):
    # a phone filming in portrait stores landscape frames and a display rotation
    import fractions

    import av
    import decord

    clip = tmp_path / "sideways.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)
        for k in range(6):
            image = np.zeros((32, 64, 3), np.uint8)
            image[:, :16] = 250  # a bright band on the stored frame's left
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = k, fractions.Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    reader = VideoReader(clip)
    assert (reader.info.source_width, reader.info.source_height) == (32, 64)
    frames = reader.read([0, 4])
    # turned 90 degrees counter-clockwise for display (FFmpeg's convention): the band is along the bottom
    assert frames[:, 48:].mean() > 200 and frames[:, :40].mean() < 40
    np.testing.assert_array_equal(reader.read_region([0, 4], (0, 32, 0, 64)), frames)
    np.testing.assert_array_equal(np.concatenate([f for _, f, _ in reader.iter_batches(16)])[[0, 4]], frames)
    monkeypatch.setattr(decord, "VideoReader", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no decoder")))
    np.testing.assert_array_equal(VideoReader(clip).read([0, 4]), frames)


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
