"""`divekit analyze`: one video in, a tracked, posed, gravity-calibrated dive report out.

Per frame the pose model (:class:`divekit.pose.PoseModel`: DiveNet + Φ) gives the diver's box
and the 13 joints (metres, pelvis-centred, camera frame), and the silhouette in the box
(:func:`divekit.motion.silhouettes`) its long axis and its centroid, each pixel weighted by the
depth of body behind it. The centroid's track, on the video's own timestamps, is what falls at g:
:func:`divekit.divemetrics.dive_report` finds the flight in it, fits the parabola whose
acceleration gives metres per pixel (unless a calibration file gives the scale) and computes the
dive figures. (The box centre, fitted until 2026-11-24, moves about the body as it folds and as
the box follows the limbs: its scale was within 3 % on 29 of 45 rendered clips, the plain
centroid's on 35, the depth-weighted centroid's on 40. A learned centre-of-mass offset in the box
was tried too: its track scattered 7-13 px about a parabola against 2-3 px for the box centre.)
Take-off and entry are dated on the frames around them, read a second time (the toes leaving
the board, the first white water of the splash: :mod:`divekit.contacts`). The video is streamed
in batches, so memory does not grow with its length: only a few numbers per frame are kept.

Outputs, in one folder per video: ``frames.csv``, ``summary.json``, ``height.png``,
``rotation.png``, ``skeletons.png`` and, on request, ``overlay.mp4``.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from divekit.calibration.calibfile import Calibration
from divekit.calibration.freefall import FreeFallFit
from divekit.contacts import entry_frames, feet_takeoff, splash_entry, takeoff_frames
from divekit.data import find_background
from divekit.divemetrics import Flight, axis_rotation, dive_report
from divekit.errors import DivekitError
from divekit.framing import Framing
from divekit.inference import boxes_to_pixels, frames_to_tensor
from divekit.io import atomic_path, replace_dir, write_json_atomic
from divekit.motion import silhouettes
from divekit.pose import PoseModel, load_pose_model
from divekit.skeleton import JOINTS, steady_size
from divekit.steady import MEASURE_SIDE, aligned_to, camera_path, show_unseen_as
from divekit.video import VideoReader, framing_for

DEFAULT_MODEL = "default_model.pt"
FRAME_COLUMNS = (
    ["frame", "time_s", "box_cx", "box_cy", "box_w", "box_h", "in_flight"]
    + [f"{joint}_{axis}" for joint in JOINTS for axis in "xyz"]
    + ["silhouette_cx", "silhouette_cy"]  # the centroid the fall is fitted to (px, like the box)
    + ["camera_dx", "camera_dy"]  # how far the scene moved in the frame (px; 0 from a still camera)
)


def default_model_path() -> Path:
    """The pose model that ships inside the package (trained on sample_data/, see the README)."""
    return Path(str(resources.files("divekit") / "assets" / DEFAULT_MODEL))


def load_model(path: Path | None) -> tuple[PoseModel, dict[str, Any], str]:
    """(model, record, name): ``path`` is a train run folder or a model file; None means the default."""
    if path is None:
        path = default_model_path()
        if not path.exists():
            raise DivekitError(f"the default model is missing from this install ({path}); pass --model")
        name = "default (sample_data)"
    else:
        name = str(path)
        if not Path(path).exists():
            raise DivekitError(f"no model at {path}")
    model, record = load_pose_model(Path(path))
    return model, record, name


@dataclass
class Track:
    """Per-frame outputs of the model on one video, in the video's own pixels. From a camera that
    moved, the frames were held still (:mod:`divekit.steady`): positions are where they would be
    in the scene as the reference frame shows it (``camera`` added, where they are in the video)."""

    times: np.ndarray  # (N,) seconds
    boxes: np.ndarray  # (N, 4) cx, cy, w, h
    joints: np.ndarray  # (N, 13, 3) metres, pelvis-centred, camera frame, one size for the clip (steady_size)
    axis_angle: np.ndarray  # (N,) radians mod π: the silhouette's long axis in the box (image axes)
    centre: np.ndarray  # (N, 2) x, y: the silhouette's centroid, the track the fall is fitted to
    framing: Framing  # where the model's working frame is in the video's
    camera: np.ndarray | None  # (N, 2) px: how far the scene moved in each frame; None, a still camera
    background_source: str
    background: np.ndarray  # (h, w, 3) uint8 in the working frame

    @property
    def source_size(self) -> tuple[int, int]:
        return self.framing.source

    @property
    def sway(self) -> np.ndarray:
        """(N, 2) px: ``camera``, zeros from a still camera."""
        return np.zeros((len(self.times), 2)) if self.camera is None else self.camera


@torch.no_grad()
def track_video(
    model: PoseModel,
    video: Path,
    *,
    background_dir: Path | None = None,
    batch: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> Track:
    """Run the model over every frame of ``video``, streaming ``batch`` frames at a time.

    16 is as fast as 64 on 2 cores (136 against 125 frames/s at 256x512) and peaks at half the memory.
    """
    cfg = model.net.config
    camera = camera_path(video)
    reader = VideoReader(video, framing=framing_for(video, tuple(cfg.frame_size), camera), shifts=camera)
    if len(reader) == 0:
        raise DivekitError(f"{video} has no frames")
    background, origin = find_background(reader, Path(video), background_dir)
    bg = frames_to_tensor(background[None])
    n = len(reader)
    boxes = np.empty((n, 4))
    joints = np.empty((n, len(JOINTS), 3))
    axis = np.empty(n)
    centre = np.empty((n, 2))
    size = (reader.info.width, reader.info.height)
    for idx, frames, _ in reader.iter_batches(batch):
        if camera is not None:
            show_unseen_as(background, frames, [reader.seen_region(k) for k in idx])
        x = frames_to_tensor(frames)
        box, pose = model(x, bg.expand(len(x), -1, -1, -1))
        boxes[idx] = box.double().numpy()
        joints[idx] = pose.double().numpy()
        shapes = silhouettes(frames, background, boxes_to_pixels(boxes[idx], size))
        axis[idx], centre[idx] = shapes.angle, shapes.centre
        if progress:
            progress(int(idx[-1]) + 1, n)
    framing = reader.info.framing
    return Track(
        reader.timestamps.copy(), framing.boxes_to_source(boxes_to_pixels(boxes, size)), steady_size(joints), axis,
        framing.to_source(centre), framing, camera, origin, background,
    )  # fmt: skip


def feet_takeoff_on_video(video: Path, track: Track, fit: FreeFallFit) -> float | None:
    """Take-off from the feet (:func:`divekit.contacts.feet_takeoff`) on the frames around the fall's
    start, read again from ``video`` at its own size and cut to the region around the feet as each
    is decoded (:meth:`VideoReader.read_region`: memory stays flat at 4K)."""
    where = takeoff_frames(track.times, track.boxes, fit, track.source_size)
    if where is None:
        return None
    reader = VideoReader(video, shifts=track.camera)
    region = within(where.region, reader.seen_region())
    if region is None:
        return None
    x0, x1, y0, y1 = region
    frames = reader.read_region(np.append(where.frames, where.reference), region)
    cut = dataclasses.replace(where, region=(0, x1 - x0, 0, y1 - y0))
    if track.camera is not None and min(track.source_size) > MEASURE_SIDE:
        # the path was measured coarser than these frames: each is aligned again with the empty board
        # at the video's own size, and a pixel of slack is left for colour's half resolution (on 4
        # swaying 1080p dives take-off was 2.0-2.4 frames early on 3 with the slack alone)
        frames, slack = aligned_to(frames[-1], frames), 1.0
    else:
        slack = steadying_slack(track, track.source_size)
    when, _ = feet_takeoff(frames[:-1], frames[-1], track.times[where.frames], cut, fit, slack)
    return when


def within(region: tuple[int, int, int, int], bounds: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The part of ``region`` (x0, x1, y0, y1) inside ``bounds``, or None when none is: a camera that
    moved shows the frame's edges in some frames only (:meth:`VideoReader.seen_region`)."""
    x0, x1 = max(region[0], bounds[0]), min(region[1], bounds[1])
    y0, y1 = max(region[2], bounds[2]), min(region[3], bounds[3])
    return (x0, x1, y0, y1) if x1 > x0 and y1 > y0 else None


STEADY_SLACK_PX = 0.5  # px at divekit.steady.MEASURE_SIDE: how far off a frame held still may sit


def steadying_slack(track: Track, size: tuple[int, int]) -> float:
    """Pixels a frame of ``track`` held still may be off by at ``size`` (0 from a still camera).

    The camera's path is measured to some 0.2 px (90th percentile) at
    :data:`divekit.steady.MEASURE_SIDE` px on the shorter side: :data:`STEADY_SLACK_PX` there. And
    at least one pixel of the video: H.264 keeps colour at half the resolution, so the colour of an
    edge moved by an odd number of pixels smears differently (the board's top edge differed by 35
    grey levels in blue from its own image a few frames earlier, once held still).
    """
    if track.camera is None:
        return 0.0
    return max(STEADY_SLACK_PX * min(size) / MEASURE_SIDE, min(size) / min(track.source_size))


def splash_entry_on_video(video: Path, track: Track, provisional: float) -> float | None:
    """Entry from the splash (:func:`divekit.contacts.splash_entry`) on the frames around the
    provisional entry, read again in the working frame and cut to the region around the diver
    there (some 40 frames at 60 fps, :meth:`VideoReader.read_region`: memory stays flat)."""
    where = entry_frames(track.times, track.framing.boxes_from_source(track.boxes), provisional, track.framing.size)
    if where is None:
        return None
    reader = VideoReader(video, framing=track.framing, shifts=track.camera)
    region = within(where.region, reader.seen_region())
    if region is None:
        return None
    x0, x1, y0, y1 = region
    frames = reader.read_region(where.frames, region)
    slack = steadying_slack(track, track.framing.size)
    when, _ = splash_entry(frames, track.background[y0:y1, x0:x1], track.times[where.frames], where.quiet, slack)
    return when


def frames_dataframe(track: Track, in_flight: np.ndarray) -> pd.DataFrame:
    """One row per frame: ``FRAME_COLUMNS``."""
    n = len(track.times)
    data: dict[str, Any] = {
        "frame": np.arange(n),
        "time_s": track.times,
        "box_cx": track.boxes[:, 0],
        "box_cy": track.boxes[:, 1],
        "box_w": track.boxes[:, 2],
        "box_h": track.boxes[:, 3],
        "in_flight": in_flight.astype(int),
    }
    for j, joint in enumerate(JOINTS):
        for a, axis in enumerate("xyz"):
            data[f"{joint}_{axis}"] = track.joints[:, j, a]
    data["silhouette_cx"], data["silhouette_cy"] = track.centre[:, 0], track.centre[:, 1]
    data["camera_dx"], data["camera_dy"] = track.sway[:, 0], track.sway[:, 1]
    return pd.DataFrame(data, columns=FRAME_COLUMNS)


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/inf to None, floats rounded sensibly."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return value


@dataclass
class VideoReport:
    video: Path
    out_dir: Path
    summary: dict[str, Any]
    wrote: list[str]


def analyze_video(
    model: PoseModel,
    model_name: str,
    video: Path,
    out_dir: Path,
    *,
    calibration: Calibration | None = None,
    calibration_file: Path | None = None,
    overlay: bool = False,
    background_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoReport:
    """Track, pose and measure one video; its report replaces ``out_dir`` once complete."""
    track = track_video(model, video, background_dir=background_dir, progress=progress)
    summary, flight = dive_report(
        track.times,
        track.boxes[:, 0],
        track.boxes[:, 1],
        track.joints,
        box_h=track.boxes[:, 3],
        axis_angle=track.axis_angle,
        centre=track.centre,
        takeoff_from=lambda fit: feet_takeoff_on_video(video, track, fit),
        entry_from=lambda provisional: splash_entry_on_video(video, track, provisional),
        metres_per_pixel=calibration.metres_per_pixel if calibration else None,
        metres_per_pixel_uncertainty=calibration.metres_per_pixel_uncertainty if calibration else None,
    )
    in_flight = flight.in_flight if flight is not None else np.zeros(len(track.times), dtype=bool)
    summary = {k: _clean(v) for k, v in summary.items()}
    framing = track.framing
    summary.update(
        video=str(video),
        frames=len(track.times),
        model=model_name,
        background=track.background_source,
        calibration=str(calibration_file) if calibration_file else None,
        # where the model looked, in the video's pixels (x, y, width, height), when it cut a window
        window_px=None if framing.plain else [round(v, 1) for v in framing.window_in_source],
        flight_frames_at_window_edge=_frames_at_window_edge(track, in_flight),
        # how far the picture moved (the largest, in the video's pixels; null from a still camera)
        camera_sway_px=None if track.camera is None else round(float(np.hypot(*track.camera.T).max()), 2),
    )

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # build the report beside its destination and swap it in complete (an old report survives any failure)
    stage = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.building-"))
    try:
        wrote = _write_report(stage, video, track, summary, flight, in_flight, overlay)
        replace_dir(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return VideoReport(Path(video), out_dir, summary, wrote)


def _frames_at_window_edge(track: Track, in_flight: np.ndarray) -> int | None:
    """How many flight frames' boxes reach an edge of the window the model looked through, where
    it cut the video's frame (None when it saw the whole frame)."""
    framing = track.framing
    if framing.plain:
        return None
    return int((framing.at_cut_edge(framing.boxes_from_source(track.boxes)) & in_flight).sum())


def _write_report(
    out_dir: Path,
    video: Path,
    track: Track,
    summary: dict[str, Any],
    flight: Flight | None,
    in_flight: np.ndarray,
    overlay: bool,
) -> list[str]:
    from divekit.overlay import project_skeleton, write_overlay
    from divekit.report_plots import plot_height, plot_rotation, plot_skeleton_strip

    wrote = []
    with atomic_path(out_dir / "frames.csv") as tmp:
        frames_dataframe(track, in_flight).to_csv(tmp, index=False, float_format="%.5f")
    wrote.append("frames.csv")
    mpp = summary.get("metres_per_pixel")
    fit = flight.fit if flight else None
    plot_height(track.times, track.centre[:, 1], in_flight, fit, mpp, out_dir / "height.png")
    angle = axis_rotation(track.axis_angle, in_flight, track.times)  # what the somersault count is made of
    plot_rotation(track.times, angle, out_dir / "rotation.png")
    plot_skeleton_strip(track.joints, in_flight, out_dir / "skeletons.png", times=track.times)
    wrote += ["height.png", "rotation.png", "skeletons.png"]
    if overlay:
        scale = mpp if mpp else _scale_from_boxes(track)
        boxes = track.boxes + np.pad(track.sway, ((0, 0), (0, 2)))  # back onto the video
        joints_px = project_skeleton(track.joints, boxes[:, :2], None, scale)
        lines = _running_lines(track, in_flight, angle, summary)
        size = overlay_size(track.source_size)
        write_overlay(Path(video), out_dir / "overlay.mp4", boxes, joints_px, lines, size)
        wrote.append("overlay.mp4")
    write_json_atomic(out_dir / "summary.json", summary)
    wrote.append("summary.json")
    return wrote


OVERLAY_SHORT_SIDE = 1080  # px: the overlay of a larger video is written at full HD


def overlay_size(source: tuple[int, int]) -> tuple[int, int] | None:
    """(width, height) to write the overlay of a video of ``source`` (width, height) at: None (its own
    size) up to :data:`OVERLAY_SHORT_SIDE` on the shorter side, else scaled down to it, both sides
    even. At 4K the overlay took 14 s and 2.1 GB at the video's size, 4 s and 0.7 GB at 1920x1080."""
    k = OVERLAY_SHORT_SIDE / min(source)
    if k >= 1:
        return None
    return tuple(max(2, 2 * round(side * k / 2)) for side in source)  # type: ignore[return-value]


def _scale_from_boxes(track: Track) -> float:
    """Metres per pixel when the fall gives none: the skeleton's height fitted to the box height."""
    extent = np.ptp(track.joints[..., 1], axis=1) + 0.24  # joint centres, padded as the truth boxes are
    ratio = extent / np.maximum(track.boxes[:, 3], 1.0)
    return float(np.median(ratio[np.isfinite(ratio)])) if np.isfinite(ratio).any() else 0.01


def _running_lines(track: Track, in_flight: np.ndarray, angle: np.ndarray, summary: dict) -> list[list[str]]:
    """The figures drawn on each overlay frame: time, phase, somersault turns so far, and the totals."""
    lines = []
    start = np.flatnonzero(in_flight)[0] if in_flight.any() else None
    for k, t in enumerate(track.times):
        rows = [f"t {t:6.2f} s  {'IN FLIGHT' if in_flight[k] else ''}"]
        if start is not None and np.isfinite(angle[k]):
            rows.append(f"somersault {angle[k] / 360:.2f} turns")
        if summary.get("flight_time_s") is not None:
            rows.append(f"flight {summary['flight_time_s']:.2f} s")
        if summary.get("apex_height_m") is not None:
            rows.append(f"apex +{summary['apex_height_m']:.2f} m")
        if summary.get("entry_speed_mps") is not None:
            rows.append(f"entry {summary['entry_speed_mps']:.1f} m/s")
        lines.append(rows)
    return lines


__all__ = [
    "DEFAULT_MODEL",
    "FRAME_COLUMNS",
    "Track",
    "VideoReport",
    "default_model_path",
    "load_model",
    "track_video",
    "frames_dataframe",
    "analyze_video",
]
