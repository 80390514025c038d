"""The only code in divekit that opens video files.

Frames come out as uint8 RGB arrays of shape (N, H, W, 3); every frame carries its own
timestamp in seconds, read from the container. Time is never ``index / fps``: phone footage
changes frame rate mid-clip, and the gravity fits need the true times.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from divekit.errors import DivekitError
from divekit.framing import Framing, busiest_window
from divekit.steady import moved_back

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Silence FFmpeg's own logging (written by C code straight to fd 2) while decord works.

    The user gets one clear line from us instead of the decoder's internals.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, notebooks)
        yield
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video without decoding its frames."""

    path: Path
    frame_count: int
    nominal_fps: float  # the container's average rate; informative only, never used for time
    duration_s: float  # from the first frame's start to the last frame's end
    framing: Framing  # how the working frame is cut from the source's (the whole of it, unless asked)

    @property
    def width(self) -> int:
        """Of the working frames (after the optional resize and cut)."""
        return self.framing.size[0]

    @property
    def height(self) -> int:
        return self.framing.size[1]

    @property
    def source_width(self) -> int:
        """Of the video file's (upright) frames."""
        return self.framing.source[0]

    @property
    def source_height(self) -> int:
        return self.framing.source[1]


def is_video_path(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def find_videos(inputs: list[Path]) -> list[Path]:
    """Expand files and folders (not recursive) into a sorted list of video paths."""
    videos: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and is_video_path(p))
            if not found:
                raise DivekitError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in folder {item}")
            videos.extend(found)
        elif item.exists():
            videos.append(item)
        else:
            raise DivekitError(f"no such file or folder: {item}")
    return videos


def _diagnose(path: Path) -> str:
    """One line saying why decord could not open ``path`` (asks PyAV for a second opinion)."""
    import av

    try:
        with _quiet_native_stderr(), av.open(str(path), metadata_errors="replace") as container:
            streams = container.streams.video
            if not streams:
                return f"{path} contains no video frames"
            for _ in container.decode(streams[0]):
                return f"cannot read {path}: unsupported video encoding"
            return f"{path} contains no video frames"
    except Exception:
        return f"cannot read {path}: not a video or unsupported format"


def _check_frame_count(path: Path) -> None:
    """Refuse a file whose header claims more frames than it can hold, before decord opens it.

    decord reserves memory for the frame count the container claims (or, without one, average
    rate x duration) before reading a packet. A corrupt count (measured: 1.46e9 frames claimed by
    a 5 kB MP4 with a flipped byte) makes that reservation throw std::bad_alloc, which decord does
    not catch: the interpreter aborts. PyAV reads the same header without that risk; a file it
    cannot open at all is refused here too (one fuzzed case had a stream name that was not UTF-8
    as well, and decord aborted on it).
    """
    import av

    try:
        with _quiet_native_stderr(), av.open(str(path), metadata_errors="replace") as container:
            claims = []
            for stream in container.streams.video:
                claimed = float(stream.frames)
                if claimed < 1:  # decord's fallback; an unknown rate or duration makes it absurd
                    rate, duration = stream.average_rate, container.duration
                    claimed = math.inf if rate is None or duration is None else float(rate) * duration / 1e6
                claims.append(claimed)
    except Exception:
        # unreadable to PyAV: not a video, or too damaged to hand to decord safely
        raise DivekitError(_diagnose(path)) from None
    size = path.stat().st_size
    for claimed in claims:
        # every stored frame takes at least one byte of the file
        if not 0 <= claimed <= size:
            raise DivekitError(f"cannot read {path}: its header gives an impossible frame count; the file is corrupt")


_UPRIGHT_SIZES: dict[tuple[str, int, int], tuple[int, int]] = {}  # (file, bytes, mtime ns) -> (w, h)


def _upright_size(path: Path) -> tuple[int, int]:
    """(width, height) of the video's frames as decord turns them upright, (0, 0) with no frames.

    decord tells it only by decoding a frame (0.09 s at 4K), and ``analyze`` opens a video some six
    times, so it is kept for the file as it is now. Once it has decoded a frame, a decord reader goes
    on decoding ahead in its own thread and holds what it decoded (2.6 GB within 3 s of opening a 4K
    video), so the probe is dropped at once.
    """
    import decord

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _UPRIGHT_SIZES:
        probe = decord.VideoReader(str(path), num_threads=1)
        height, width = probe[0].shape[:2] if len(probe) else (0, 0)
        del probe
        _UPRIGHT_SIZES[key] = (int(width), int(height))
    return _UPRIGHT_SIZES[key]


def _pyav_index(path: Path) -> tuple[tuple[int, int], np.ndarray, float] | None:
    """What decord's index gives, read with PyAV, for a video decord cannot open but PyAV can decode
    (AV1: decord's FFmpeg has no decoder for it): the upright (width, height) of its first frame,
    (N, 2) start and end times of every frame from the stream's start, as decord counts them, and
    the average rate. None if PyAV cannot decode it either. The times are the packets', read
    without decoding; a stream whose packets carry no times is decoded once to date its frames.
    """
    import av

    try:
        with _quiet_native_stderr(), av.open(str(path), metadata_errors="replace") as container:
            if not container.streams.video:
                return None
            stream = container.streams.best("video")
            first = next(container.decode(stream), None)
            if first is None:
                return None
            turns = round(first.rotation / 90) % 4
            size = (first.height, first.width) if turns % 2 else (first.width, first.height)
            rate = float(stream.average_rate) if stream.average_rate else 0.0
            start, time_base = stream.start_time or 0, float(stream.time_base)
        with _quiet_native_stderr(), av.open(str(path), metadata_errors="replace") as container:
            packets = [(p.pts, p.duration or 0) for p in container.demux(container.streams.best("video")) if p.size]
        if any(pts is None for pts, _ in packets):
            with _quiet_native_stderr(), av.open(str(path), metadata_errors="replace") as container:
                packets = [(f.pts, f.duration or 0) for f in container.decode(container.streams.best("video"))]
    except av.FFmpegError:
        return None
    if any(pts is None for pts, _ in packets):
        return None
    pts, duration = np.array(sorted(packets), dtype=np.float64).reshape(-1, 2).T
    starts = (pts - start) * time_base
    return size, np.stack([starts, starts + duration * time_base], axis=1), rate


class VideoReader:
    """Random access and bounded-memory streaming over one video.

    ``size=(width, height)`` decodes straight to a working resolution, the whole frame scaled to
    it; ``framing`` (its ``source`` the video's size) cuts the working frame as it says instead
    (:func:`framing_for`). ``shifts`` (N, 2) x, y in the video's pixels, how far the scene moved in
    each frame (:func:`divekit.steady.camera_path`), hold every frame still: each is moved back by
    its shift before it is cut. Opening reads only the index; frames are decoded on demand, so a
    long 1080p file is never held in memory.

    Two decoders: decord gives the index (every frame's time) and :meth:`read`'s random access;
    PyAV decodes in order for :meth:`iter_batches` and :meth:`read_region`, and does everything for
    a video decord cannot decode (AV1). At the video's own size the two give the same pixels.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        size: tuple[int, int] | None = None,
        framing: Framing | None = None,
        threads: int = 0,
        shifts: np.ndarray | None = None,
    ):
        import decord  # heavy native import, kept out of module import time

        self.path = Path(path)
        if not self.path.exists():
            raise DivekitError(f"no such video: {self.path}")
        if not self.path.is_file():
            raise DivekitError(f"not a file: {self.path}")
        assert size is None or framing is None, "give a working size or a framing, not both"
        self._threads = threads
        if size is not None and (size[0] <= 0 or size[1] <= 0):
            raise DivekitError(f"working size must be positive, got {size[0]}x{size[1]}")
        _check_frame_count(self.path)
        try:
            with _quiet_native_stderr():
                framing = self._check_framing(_upright_size(self.path), size, framing)
                width, height = framing.scaled
                plain = framing.scaled == framing.source
                scaled = {} if plain else {"width": width, "height": height}
                # decodes nothing (and so holds nothing) until read() asks it to; at the video's own size
                # on one thread, as before: decord's own choice of threads cost divekit background 0.15 GB
                # more at 4K
                self._vr = decord.VideoReader(str(self.path), num_threads=1 if plain else threads, **scaled)
                n = len(self._vr)
                times = self._vr.get_frame_timestamp(np.arange(n)) if n else np.zeros((0, 2))
                fps = float(self._vr.get_avg_fps()) if n else 0.0
        except DivekitError:
            raise
        except Exception as exc:  # decord raises bare RuntimeError/DECORDError for every failure
            index = _pyav_index(self.path)  # an encoding decord's FFmpeg lacks (AV1) that PyAV's has
            if index is None:
                raise DivekitError(_diagnose(self.path)) from exc
            source, times, fps = index
            framing = self._check_framing(source, size, framing)
            self._vr = None  # every frame is decoded with PyAV
            n = len(times)
        if n == 0:
            raise DivekitError(f"{self.path} contains no video frames")
        self._times = np.asarray(times[:, 0], dtype=np.float64)
        # A corrupt index can repeat or reorder times; searches and the gravity fits assume they increase.
        bad = np.flatnonzero(~(np.diff(self._times) > 0))
        if not np.isfinite(self._times).all() or len(bad):
            where = f" (frame {bad[0] + 1} at {self._times[bad[0] + 1]:.4f} s)" if len(bad) else ""
            raise DivekitError(f"{self.path} has frame timestamps that do not increase{where}; the file may be corrupt")
        end = float(times[-1, 1]) if times[-1, 1] > times[-1, 0] else float(times[-1, 0])
        self.info = VideoInfo(
            path=self.path,
            frame_count=n,
            nominal_fps=fps,
            duration_s=end - float(self._times[0]),
            framing=framing,
        )
        self._shifts = None
        if shifts is not None:
            shifts = np.asarray(shifts, dtype=np.float64)
            if shifts.shape != (n, 2):
                raise DivekitError(f"{self.path} has {n} frames, but {len(shifts)} camera shifts were given")
            # in the scaled frame's pixels, where the picture is held still before it is cut
            self._shifts = shifts * np.divide(framing.scaled, framing.source)

    def _check_framing(self, source: tuple[int, int], size: tuple[int, int] | None, framing: Framing | None) -> Framing:
        """The framing to read with: the one given, which must be for a video of ``source`` (width,
        height), or the whole frame scaled to ``size``."""
        if framing is None:
            return Framing.whole(source, size)
        if framing.source != source:
            raise DivekitError(f"{self.path} is {source[0]}x{source[1]}, not the {framing.source} it was framed for")
        return framing

    def __len__(self) -> int:
        return self.info.frame_count

    def seen_region(self, k: int | None = None) -> tuple[int, int, int, int]:
        """(x0, x1, y0, y1), ends exclusive: the part of the working frame that frame ``k`` (by default
        every frame), held still by its shift, shows; beyond it the frame's edge is repeated. The whole
        frame without shifts."""
        framing = self.info.framing
        w, h = framing.size
        if self._shifts is None:
            return 0, w, 0, h
        (ox, oy), (sw, sh) = framing.offset, framing.scaled
        shifts = self._shifts if k is None else self._shifts[k : k + 1]
        d_min, d_max = shifts.min(axis=0), shifts.max(axis=0)
        # moved back, working pixel x shows scaled pixels x + ox + dx and the one after it
        x0, y0 = max(0, math.ceil(-ox - d_min[0])), max(0, math.ceil(-oy - d_min[1]))
        x1, y1 = min(w, math.floor(sw - 2 - ox - d_max[0]) + 1), min(h, math.floor(sh - 2 - oy - d_max[1]) + 1)
        return x0, max(x0, x1), y0, max(y0, y1)

    @property
    def timestamps(self) -> np.ndarray:
        """(N,) float64 start time of every frame in seconds, from the container."""
        return self._times.copy()

    def read(self, indices: np.ndarray | list[int]) -> np.ndarray:
        """Decode the given frames: (len(indices), H, W, 3) uint8 RGB."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise DivekitError(f"frame index out of range 0..{len(self) - 1} in {self.path}")
        if self._vr is None or not idx.size:
            return self.read_region(idx)
        try:
            with _quiet_native_stderr():
                frames = self._vr.get_batch(idx.tolist()).asnumpy()
        except Exception:
            # decord cannot scale to some widths (48 px: "The size must exactly match"); PyAV can, and
            # says so if the file is corrupt
            return self.read_region(idx)
        if self._shifts is not None:
            return np.stack([self._working(f, k) for f, k in zip(frames, idx.tolist(), strict=True)])
        return frames if self.info.framing.plain else np.ascontiguousarray(self.info.framing.cut(frames))

    def iter_batches(
        self, batch_size: int = 32, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Stream (indices, frames, times) in consecutive batches; memory is one batch.

        Decoded with PyAV in this thread, not with decord: decord's reader keeps pushing packets to
        its decoding thread while it waits for a frame (hundreds of them before the first frame
        comes out), and that thread then decodes them all ahead of the reader and holds them
        (measured: +700 MB for a 3000-frame 256x512 clip, while the model ran on the batches).
        """
        stop = len(self) if stop is None else min(stop, len(self))
        with contextlib.closing(self._decode_sequential(stop)) as frames:
            for _ in range(min(start, stop)):
                next(frames)
            for lo in range(start, stop, batch_size):
                idx = np.arange(lo, min(lo + batch_size, stop))
                yield idx, np.stack([next(frames) for _ in idx]), self._times[idx]

    def read_region(
        self, indices: np.ndarray | list[int], region: tuple[int, int, int, int] | None = None
    ) -> np.ndarray:
        """The frames ``indices`` as :meth:`read` gives them, each cut to ``region`` (x0, x1, y0, y1;
        ends exclusive; the whole working frame by default) as soon as it is decoded:
        (len(indices), y1 - y0, x1 - x0, 3) uint8 RGB.

        Memory is one whole frame and the cut ones, whatever the video's size: decord's random
        access held 2.5 GB of buffers to read some 50 frames of a 4K video. Decoded with PyAV from
        the keyframe at or before the first frame wanted, each frame known by its timestamp. Where
        the seek lands after that frame, or a timestamp is none of the index's, the video is decoded
        from its start instead, counting frames.
        """
        import av

        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise DivekitError(f"frame index out of range 0..{len(self) - 1} in {self.path}")
        region = (0, self.info.width, 0, self.info.height) if region is None else region
        if not idx.size:
            x0, x1, y0, y1 = region
            return np.zeros((0, max(0, y1 - y0), max(0, x1 - x0), 3), dtype=np.uint8)
        try:
            with contextlib.closing(self._seek_and_decode(int(idx.min()))) as frames:
                cut = self._cut_out(frames, idx, region)
            if cut is None:
                with contextlib.closing(self._av_frames()) as frames:
                    cut = self._cut_out(enumerate(frames), idx, region)
        except av.FFmpegError as exc:
            raise DivekitError(f"cannot decode frames of {self.path}: the file may be corrupt") from exc
        if cut is None or len(cut) < len(set(idx.tolist())):
            raise DivekitError(f"cannot decode frames of {self.path}: only {len(cut or ())} of the frames asked for")
        return np.stack([cut[k] for k in idx.tolist()])

    def _cut_out(
        self, frames: Iterator[tuple[int | None, Any]], idx: np.ndarray, region: tuple[int, int, int, int]
    ) -> dict[int, np.ndarray] | None:
        """{index: picture cut to ``region``} for the indices ``idx`` among (index, PyAV frame) pairs,
        read until the last; None if a frame's index is unknown or the first comes after ``idx``'s."""
        wanted, last = set(idx.tolist()), int(idx.max())
        cut: dict[int, np.ndarray] = {}
        for n, (k, frame) in enumerate(frames):
            if k is None or (n == 0 and k > idx.min()):
                return None
            if k in wanted:
                cut[k] = self._picture(frame, k, region)
            if k >= last:
                break
        return cut

    def _seek_and_decode(self, first: int) -> Iterator[tuple[int | None, Any]]:
        """(index, PyAV frame) pairs from the keyframe at or before frame ``first`` on; the index is
        None for a frame whose time is none of the index's. decord's times start at 0, the
        container's at the stream's start time."""
        import av

        with av.open(str(self.path), metadata_errors="replace") as container:
            stream = container.streams.best("video")
            stream.thread_count = self._threads
            time_base = float(stream.time_base)
            clock = self._times + (stream.start_time * time_base if stream.start_time is not None else 0.0)
            tolerance = 0.25 * float(np.diff(clock).min()) if len(clock) > 1 else 1e-3
            container.seek(math.floor(clock[first] / time_base), stream=stream)
            for frame in container.decode(stream):
                k = int(np.argmin(np.abs(clock - frame.time))) if frame.time is not None else -1
                yield (k if k >= 0 and abs(clock[k] - frame.time) <= tolerance else None), frame

    def _av_frames(self) -> Iterator[Any]:
        """Every decoded PyAV frame of the video from its start, in order."""
        import av

        with av.open(str(self.path), metadata_errors="replace") as container:
            stream = container.streams.best("video")
            stream.thread_count = self._threads
            yield from container.decode(stream)

    def _picture(self, frame, k: int, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Decoded PyAV frame ``k`` as :meth:`read` gives it: upright, at the working size, framed
        (a resized frame may differ slightly from decord's; at the video's own size they are the
        same to the bit), held still, and cut to ``region`` when given."""
        framing = self.info.framing
        # decord turns the picture upright (transpose, then scale); so do we
        turns = round(frame.rotation / 90) % 4
        w, h = framing.scaled[::-1] if turns % 2 else framing.scaled
        # one thread: swscale's default (one per core) was 8x slower while the model used the cores
        image = frame.to_ndarray(format="rgb24", width=w, height=h, threads=1)
        image = np.rot90(image, turns) if turns else image
        return self._working(image, k, region)

    def _working(self, scaled: np.ndarray, k: int, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """An upright picture (H, W, 3) at the scaled size, of frame ``k`` -> the working frame, held
        still by the frame's shift when the reader has them, cut to ``region`` (x0, x1, y0, y1) of
        it (the whole by default). Held still, only the region is made, from the scaled picture."""
        framing = self.info.framing
        x0, x1, y0, y1 = (0, framing.size[0], 0, framing.size[1]) if region is None else region
        (ox, oy), shift = framing.offset, None if self._shifts is None else self._shifts[k]
        if shift is not None and ox >= 0:
            return moved_back(scaled, shift, (x0 + ox, x1 + ox, y0 + oy, y1 + oy))
        if shift is not None:  # grey bars beside it: the whole picture held still, then framed
            scaled = moved_back(scaled, shift)
        image = scaled if framing.plain else framing.cut(scaled)
        return np.ascontiguousarray(image[y0:y1, x0:x1])

    def _decode_sequential(self, stop: int) -> Iterator[np.ndarray]:
        """Frames 0..stop-1 in order, as read() gives them."""
        import av

        count = 0
        try:
            for frame in self._av_frames():
                yield self._picture(frame, count)
                count += 1
                if count == stop:
                    return
        except av.FFmpegError as exc:
            raise DivekitError(f"cannot decode frames of {self.path}: the file may be corrupt") from exc
        raise DivekitError(f"cannot decode frames of {self.path}: only {count} of {stop}; the file may be corrupt")

    def sample_evenly(self, count: int) -> np.ndarray:
        """Indices of ``count`` frames spread evenly over the clip's time (not its index)."""
        n = len(self)
        if count >= n:
            return np.arange(n)
        targets = np.linspace(self._times[0], self._times[-1], count)
        idx = np.searchsorted(self._times, targets).clip(0, n - 1)
        return np.unique(idx)


ACTIVITY_FRAMES = 32  # frames sampled evenly in time to see where a video moves
ACTIVITY_SIDE = 96  # ... decoded this many pixels along their shorter side
ACTIVITY_FLOOR = 25.0  # grey levels: water shimmer (up to some 16) does not count as moving


def framing_for(path: Path | str, size: tuple[int, int], shifts: np.ndarray | None = None) -> Framing:
    """How to cut working frames of ``size`` (width, height) from the video at ``path`` without
    distorting them (:meth:`Framing.keep_aspect`), the window where the video moves most.

    :data:`ACTIVITY_FRAMES` frames spread evenly in time, decoded small (memory stays flat), are
    compared with their per-pixel median (the empty scene, as ``divekit background`` estimates it);
    the pixels that differ by more than the noise and :data:`ACTIVITY_FLOOR` are counted in each
    column, and the window holds the most of them (:func:`divekit.framing.busiest_window`). A diver
    crosses a few metres of a landscape frame, the water's shimmer is everywhere alike. From a camera
    that moved, the frames are held still by its ``shifts`` (:func:`divekit.steady.camera_path`): a
    swaying picture moves everywhere, and the window chosen on it let the diver out before entry.
    """
    from divekit.motion import colour_difference, foreground_threshold

    probe = VideoReader(path).info
    source = (probe.source_width, probe.source_height)
    centred = Framing.keep_aspect(source, size)
    if not centred.cuts:
        return centred
    k = ACTIVITY_SIDE / min(source)
    small = VideoReader(path, size=(max(2, round(source[0] * k)), max(2, round(source[1] * k))), shifts=shifts)
    # decoded with PyAV, only these converted: decord held some 380 MB of 1080p frames for 32 small ones
    frames = small.read_region(small.sample_evenly(ACTIVITY_FRAMES))
    diff = colour_difference(frames, np.median(frames, axis=0).astype(np.uint8))
    moving = diff > foreground_threshold(diff, ACTIVITY_FLOOR)
    columns = moving.sum(axis=(0, 1))  # the window moves along the width only
    window = centred.size[0] / centred.scaled[0] * len(columns)
    return Framing.keep_aspect(source, size, busiest_window(columns, window))


class VideoWriter:
    """Write uint8 RGB frames with explicit per-frame timestamps (H.264 in MP4, via PyAV).

    Timestamps are stored exactly (time base 1/90000 s), so a variable frame rate survives the
    round trip through :class:`VideoReader`.
    """

    TIME_BASE = 90_000

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        *,
        fps_hint: float = 30.0,
        crf: int = 23,
        preset: str = "veryfast",
    ):
        import fractions

        import av

        if width % 2 or height % 2:
            raise DivekitError(f"H.264 needs even frame sizes, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height = width, height
        tb = fractions.Fraction(1, self.TIME_BASE)
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream("libx264", rate=fractions.Fraction(fps_hint).limit_denominator(1001))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = tb
        self._stream.codec_context.time_base = tb
        self._stream.options = {"crf": str(crf), "preset": preset}
        self._tb = tb
        self._last_pts = -1
        self._av = av

    def write(self, frame: np.ndarray, time_s: float) -> None:
        """Append one (H, W, 3) uint8 RGB frame shown at ``time_s`` seconds (strictly increasing)."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected ({self.height}, {self.width}, 3) uint8, got {frame.shape} {frame.dtype}")
        pts = int(round(time_s * self.TIME_BASE))
        if pts <= self._last_pts:
            raise ValueError(f"timestamps must increase: {time_s} s after pts {self._last_pts}")
        self._last_pts = pts
        vf = self._av.VideoFrame.from_ndarray(frame, format="rgb24")
        vf.pts, vf.time_base = pts, self._tb
        for packet in self._stream.encode(vf):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is None:
            return
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def quantize_time(time_s: float | np.ndarray) -> float | np.ndarray:
    """The time a frame written at ``time_s`` will carry in the file (the 1/90000 s tick)."""
    return np.round(np.asarray(time_s) * VideoWriter.TIME_BASE) / VideoWriter.TIME_BASE
