"""The overlay video of the ``divekit analyze`` report: box, skeleton and running figures on every frame.

Pixel coordinates are (x right, y down) in the source video; poses are in metres in the camera
frame (x right, y down, z forward), pelvis-centred. Drawing uses Pillow; video goes through
:mod:`divekit.video` only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from divekit.io import atomic_path
from divekit.skeleton import BONES, JOINTS, J, centre_of_mass
from divekit.video import VideoReader, VideoWriter

BOX_COLOUR = (255, 210, 0)
LEFT_COLOUR, RIGHT_COLOUR, MID_COLOUR = (70, 150, 255), (255, 80, 80), (235, 235, 235)
TEXT_COLOUR, TEXT_BACKGROUND = (255, 255, 255), (0, 0, 0, 150)
BATCH_BYTES = 64 * 2**20  # decoded frames held at once while the overlay is drawn (10 at 1080p)


def project_skeleton(
    joints_m: np.ndarray,
    centre_px: np.ndarray,
    centre_offset_m: np.ndarray | None,
    metres_per_pixel: float | np.ndarray,
) -> np.ndarray:
    """Joints in image pixels: joints_m (N, 13, 3), centre_px (N, 2) -> (N, 13, 2).

    ``joint_px = centre_px + (joint_xy - ref_xy) / metres_per_pixel``: the pose's reference point
    ``ref`` is put on the tracked centre and the rest is scaled orthographically. ``ref`` is the
    centre of mass of the pose (:func:`divekit.skeleton.centre_of_mass`), or ``centre_offset_m``
    (N, 3), the point of the pelvis-centred pose that ``centre_px`` tracks, when given.
    ``metres_per_pixel`` is a float or (N,) per frame (e.g. when the depth changes).

    This is the weak-perspective approximation: every joint is taken at the depth of the
    reference point, so depth differences within the body (a few tenths of a metre against a
    pool-side distance of many metres) are ignored. NaN in any input gives NaN pixels.
    """
    joints = np.asarray(joints_m, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (len(JOINTS), 3):
        raise ValueError(f"joints_m must be (N, 13, 3), got {joints.shape}")
    n = len(joints)
    centre = np.asarray(centre_px, dtype=np.float64)
    if centre.shape != (n, 2):
        raise ValueError(f"centre_px must be ({n}, 2), got {centre.shape}")
    if centre_offset_m is None:
        ref = centre_of_mass(joints)
    else:
        ref = np.asarray(centre_offset_m, dtype=np.float64)
        if ref.shape != (n, 3):
            raise ValueError(f"centre_offset_m must be ({n}, 3), got {ref.shape}")
    mpp = np.asarray(metres_per_pixel, dtype=np.float64)
    mpp = np.broadcast_to(mpp, (n,)) if mpp.ndim == 0 else mpp
    if mpp.shape != (n,):
        raise ValueError(f"metres_per_pixel must be a float or ({n},), got {mpp.shape}")
    if np.any(mpp[np.isfinite(mpp)] <= 0):
        raise ValueError("metres_per_pixel must be positive")
    return centre[:, None, :] + (joints[..., :2] - ref[:, None, :2]) / mpp[:, None, None]


@functools.lru_cache(maxsize=8)
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only its fixed-size bitmap font
        return ImageFont.load_default()


def _bone_colour(a: int, b: int) -> tuple[int, int, int]:
    names = JOINTS[a] + JOINTS[b]
    if names.count("left") == 2:
        return LEFT_COLOUR
    if names.count("right") == 2:
        return RIGHT_COLOUR
    return MID_COLOUR


def draw_frame(
    frame: np.ndarray,
    box: tuple[float, float, float, float] | np.ndarray | None,
    joints_px: np.ndarray | None,
    lines: list[str],
) -> np.ndarray:
    """A copy of ``frame`` (H, W, 3) uint8 with the box, the skeleton and text drawn on it.

    ``box`` is (cx, cy, w, h) in pixels; ``joints_px`` (13, 2) in pixels, drawn as the bones of
    :data:`divekit.skeleton.BONES` plus a neck-head line (left limbs blue, right red) and a dot per
    joint; ``lines`` are written top-left on a dark band. None, or NaN coordinates, draw nothing
    of that part. Line widths and text size follow the frame size.
    """
    from PIL import Image, ImageDraw

    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    image = Image.fromarray(frame.copy())
    draw = ImageDraw.Draw(image, "RGBA")  # RGBA fills blend onto the RGB frame
    lw = max(1, round(min(height, width) / 180))

    if box is not None:
        cx, cy, w, h = (float(v) for v in box)
        if np.isfinite([cx, cy, w, h]).all() and w > 0 and h > 0:
            draw.rectangle((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), outline=BOX_COLOUR, width=lw)

    if joints_px is not None:
        pts = np.asarray(joints_px, dtype=np.float64)
        if pts.shape != (len(JOINTS), 2):
            raise ValueError(f"joints_px must be (13, 2), got {pts.shape}")
        neck = 0.5 * (pts[J["left_shoulder"]] + pts[J["right_shoulder"]])
        segments = [(pts[a], pts[b], _bone_colour(a, b)) for a, b in BONES]
        segments.append((neck, pts[J["head"]], MID_COLOUR))
        for p, q, colour in segments:
            if np.isfinite(p).all() and np.isfinite(q).all():
                draw.line((*p, *q), fill=colour, width=2 * lw)
        r = 1.5 * lw
        for x, y in pts[np.isfinite(pts).all(axis=1)]:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255), outline=(0, 0, 0))

    if lines:
        font = _font(max(9, height // 36))
        text = "\n".join(lines)
        pad = max(2, height // 120)
        left, top, right, bottom = draw.multiline_textbbox((pad, pad), text, font=font)
        draw.rectangle((0, 0, right + pad, bottom + pad), fill=TEXT_BACKGROUND)
        draw.multiline_text((pad, pad), text, font=font, fill=TEXT_COLOUR)
    return np.asarray(image)


def write_overlay(
    video: Path,
    out: Path,
    boxes_px: np.ndarray,
    joints_px: np.ndarray | None,
    lines_per_frame: Callable[[int], list[str]] | list[list[str]],
    size: tuple[int, int] | None = None,
    *,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Stream ``video``, draw every frame (:func:`draw_frame`) and write ``out`` at the source frame times.

    boxes_px (N, 4) as (cx, cy, w, h) and joints_px (N, 13, 2) are in pixels of the source video,
    N its frame count; ``lines_per_frame(i)`` or ``lines_per_frame[i]`` is the text of frame i.
    ``size=(width, height)`` decodes and writes at that resolution (coordinates are scaled to it).
    H.264 needs even sizes: an odd last row or column is cropped. Memory is one batch of frames, by
    default as many as fit in :data:`BATCH_BYTES` (16 at most); ``progress(done, total)`` is called
    after each batch. ``out`` appears complete or not at all.
    """
    reader = VideoReader(video, size=size)
    info = reader.info
    n = len(reader)
    boxes = np.asarray(boxes_px, dtype=np.float64)
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes_px must be ({n}, 4) for the {n} frames of {video}, got {boxes.shape}")
    joints = None if joints_px is None else np.asarray(joints_px, dtype=np.float64)
    if joints is not None and joints.shape != (n, len(JOINTS), 2):
        raise ValueError(f"joints_px must be ({n}, 13, 2), got {joints.shape}")
    if not callable(lines_per_frame) and len(lines_per_frame) != n:
        raise ValueError(f"lines_per_frame must have {n} entries, got {len(lines_per_frame)}")
    text = lines_per_frame if callable(lines_per_frame) else lines_per_frame.__getitem__

    sx, sy = info.width / info.source_width, info.height / info.source_height
    boxes = boxes * np.array([sx, sy, sx, sy])
    if joints is not None:
        joints = joints * np.array([sx, sy])
    width, height = info.width - info.width % 2, info.height - info.height % 2
    if batch_size is None:
        batch_size = int(np.clip(BATCH_BYTES // (width * height * 3), 1, 16))
    fps = info.nominal_fps if info.nominal_fps > 0 else 30.0
    with atomic_path(Path(out)) as tmp, VideoWriter(tmp, width, height, fps_hint=fps) as writer:
        for indices, frames, times in reader.iter_batches(batch_size):
            for i, frame, time_s in zip(indices, frames, times, strict=True):
                drawn = draw_frame(
                    np.ascontiguousarray(frame[:height, :width]),
                    boxes[i],
                    None if joints is None else joints[i],
                    list(text(int(i))),
                )
                writer.write(drawn, float(time_s))
            if progress is not None:
                progress(int(indices[-1]) + 1, n)
