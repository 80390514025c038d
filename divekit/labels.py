"""Pose label files: one CSV row per (video, frame, joint), 3D in metres and/or 2D in pixels.

Columns: ``frame`` and ``joint`` (a name from :data:`divekit.skeleton.JOINTS`) are required, then
``x, y, z`` (metres, camera frame) and/or ``u, v`` (pixels); at least one complete group. ``video``
is optional (a file name or stem; kept as the stem). Without it the file names the video:
``<stem>.truth.csv`` or ``<stem>.csv`` labels ``<stem>``. Other columns (``time_s``, ...) are ignored.
This is what ``divekit synth`` writes as ``<clip>.truth.csv``, and :func:`poses_dataframe` writes a
pose table that reads back the same way. Every frame must carry all 13 joints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from divekit.errors import DivekitError
from divekit.skeleton import JOINTS, J
from divekit.video import VIDEO_SUFFIXES

TRUTH_SUFFIX = ".truth.csv"
XYZ = ("x", "y", "z")
UV = ("u", "v")
REQUIRED = ("frame", "joint")


@dataclass
class VideoLabels:
    """The labelled frames of one video, sorted by frame index."""

    video: str
    frames: np.ndarray  # (N,) int64, strictly increasing
    xyz: np.ndarray | None  # (N, 13, 3) metres in the camera frame, or None when the file has no 3D
    uv: np.ndarray | None  # (N, 13, 2) pixels, or None when the file has no 2D

    def __post_init__(self) -> None:
        n = len(self.frames)
        assert self.frames.ndim == 1 and bool(np.all(np.diff(self.frames) > 0)), "frames must be sorted, unique"
        assert self.xyz is None or self.xyz.shape == (n, len(JOINTS), 3), self.xyz.shape
        assert self.uv is None or self.uv.shape == (n, len(JOINTS), 2), self.uv.shape

    def __len__(self) -> int:
        return len(self.frames)


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "") if items else "none"


def video_stem(name: str) -> str:
    """A video named by file name, path or stem -> its stem (``dives/clip3.mp4`` -> ``clip3``)."""
    base = Path(name.strip()).name
    return Path(base).stem if Path(base).suffix.lower() in VIDEO_SUFFIXES else base


def _file_video(path: Path) -> str:
    name = path.name
    if name.lower().endswith(TRUTH_SUFFIX):
        return name[: -len(TRUTH_SUFFIX)]
    return path.stem


def _label_files(paths: list[Path]) -> list[Path]:
    if not paths:
        raise DivekitError("no label files given")
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.name.lower().endswith(TRUTH_SUFFIX))
            if not found:
                raise DivekitError(f"no label files (*{TRUTH_SUFFIX}) in folder {item}")
            files.extend(found)
        elif item.is_file():
            files.append(item)
        elif item.exists():
            raise DivekitError(f"{item} is not a regular file")
        else:
            raise DivekitError(f"no such file or folder: {item}")
    unique: dict[Path, Path] = {}
    for p in files:  # a file given twice (say, directly and through its folder) is read once
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DivekitError(f"{path} is empty, expected a CSV label file") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DivekitError(f"cannot read {path} as CSV: {reason}") from None
    except OSError as exc:
        raise DivekitError(f"cannot read {path}: {exc.strerror or exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    if len(df) == 0:
        raise DivekitError(f"{path} has a header but no label rows")
    return df


def _line(row: int) -> str:
    return f"line {row + 2}"  # 1-based, after the header


def _numbers(path: Path, df: pd.DataFrame, column: str) -> np.ndarray:
    raw = df[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise DivekitError(f"{path}: {_line(row)}: {column} is {raw.iloc[row]!r}, not a finite number")
    return values


def _parse(path: Path) -> list[VideoLabels]:
    """Every video of one label file, validated."""
    df = _read_csv(path)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DivekitError(f"{path}: missing column(s) {', '.join(missing)}")
    groups = {name: cols for name, cols in (("xyz", XYZ), ("uv", UV)) if all(c in df.columns for c in cols)}
    if not groups:
        lack_xyz = ", ".join(c for c in XYZ if c not in df.columns)
        lack_uv = ", ".join(c for c in UV if c not in df.columns)
        raise DivekitError(
            f"{path}: missing coordinate columns: 3D needs x, y, z (missing {lack_xyz}),"
            f" 2D needs u, v (missing {lack_uv})"
        )

    joints = df["joint"].str.strip()
    unknown = np.flatnonzero(~joints.isin(JOINTS).to_numpy())
    if unknown.size:
        names = list(dict.fromkeys(joints.iloc[unknown]))
        raise DivekitError(
            f"{path}: unknown joint name(s) {_names([repr(n) for n in names], 3)} (first on {_line(int(unknown[0]))});"
            f" valid names: {', '.join(JOINTS)}"
        )
    joint_idx = joints.map(J).to_numpy(dtype=np.int64)

    frame_f = _numbers(path, df, "frame")
    for bad, what in ((frame_f != np.round(frame_f), "is not a whole number"), (frame_f < 0, "is negative")):
        rows = np.flatnonzero(bad)
        if rows.size:
            row = int(rows[0])
            raise DivekitError(f"{path}: {_line(row)}: frame {df['frame'].iloc[row].strip()} {what}")
    frames = frame_f.astype(np.int64)
    coords = {name: np.stack([_numbers(path, df, c) for c in cols], axis=1) for name, cols in groups.items()}

    if "video" in df.columns:
        raw = df["video"].str.strip()
        empty = np.flatnonzero((raw == "").to_numpy())
        if empty.size:
            raise DivekitError(f"{path}: {_line(int(empty[0]))}: empty video name")
        videos = raw.map(video_stem).to_numpy(dtype=object)
    else:
        videos = np.full(len(df), _file_video(path), dtype=object)

    keys = pd.DataFrame({"video": videos, "frame": frames, "joint": joint_idx})
    dup = np.flatnonzero(keys.duplicated().to_numpy())
    if dup.size:
        row = int(dup[0])
        v, f, j = keys.iloc[row]
        first = int(np.flatnonzero(((keys == keys.iloc[row]).all(axis=1)).to_numpy())[0])
        raise DivekitError(
            f"{path}: {_line(row)}: joint {JOINTS[j]} of frame {f} of video {v!r} is labelled twice"
            f" (first on {_line(first)})"
        )
    counts = keys.groupby(["video", "frame"], sort=False).size()
    incomplete = counts[counts < len(JOINTS)]
    if len(incomplete):
        v, f = incomplete.index[0]
        have = set(keys.loc[(keys["video"] == v) & (keys["frame"] == f), "joint"])
        lacking = [name for i, name in enumerate(JOINTS) if i not in have]
        raise DivekitError(f"{path}: frame {f} of video {v!r} lacks joint(s) {', '.join(lacking)}")

    out = []
    for video in sorted(set(videos)):
        rows = np.flatnonzero(videos == video)
        rows = rows[np.lexsort((joint_idx[rows], frames[rows]))]  # by frame, then joint order
        n = len(rows) // len(JOINTS)
        shaped = {name: c[rows].reshape(n, len(JOINTS), -1) for name, c in coords.items()}
        out.append(VideoLabels(video, frames[rows][:: len(JOINTS)].copy(), shaped.get("xyz"), shaped.get("uv")))
    return out


def read_labels(paths: list[Path]) -> dict[str, VideoLabels]:
    """Read label CSV files, or every ``*.truth.csv`` of folders, into one entry per video."""
    labels: dict[str, VideoLabels] = {}
    origin: dict[str, Path] = {}
    for path in _label_files(paths):
        for item in _parse(path):
            if item.video in labels:
                raise DivekitError(f"video {item.video!r} is labelled in two files: {origin[item.video]} and {path}")
            labels[item.video] = item
            origin[item.video] = path
    return labels


def check_frames(labels: dict[str, VideoLabels], frame_counts: dict[str, int]) -> None:
    """Raise unless every labelled video is an input and every labelled frame exists in it."""
    for video, item in labels.items():
        if video not in frame_counts:
            raise DivekitError(
                f"labels name video {video!r}, which is not among the inputs ({_names(sorted(frame_counts))})"
            )
        count = frame_counts[video]
        if len(item) and int(item.frames[-1]) >= count:
            raise DivekitError(
                f"labels of video {video!r} reach frame {int(item.frames[-1])}, but it has {count} frames"
                f" (0 to {count - 1})"
            )


def every_kth(labels: VideoLabels, fraction: float) -> VideoLabels:
    """Paper S.1.2: keep every K-th labelled frame, K = round(1/fraction), starting with the first."""
    if not 0 < fraction <= 1:  # also false for NaN
        raise DivekitError(f"label fraction must be in (0, 1], got {fraction}")
    k = max(1, round(1 / fraction))
    return VideoLabels(
        labels.video,
        labels.frames[::k].copy(),
        None if labels.xyz is None else labels.xyz[::k].copy(),
        None if labels.uv is None else labels.uv[::k].copy(),
    )


def poses_dataframe(video: str, frames: np.ndarray, times: np.ndarray, joints: np.ndarray) -> pd.DataFrame:
    """(N,) frames, (N,) times and (N,13,3) joints -> rows video, frame, time_s, joint, x, y, z (13 per frame)."""
    frames = np.asarray(frames, dtype=np.int64)
    times = np.asarray(times, dtype=np.float64)
    joints = np.asarray(joints, dtype=np.float64)
    n = len(frames)
    assert frames.shape == (n,) and times.shape == (n,), (frames.shape, times.shape)
    assert joints.shape == (n, len(JOINTS), 3), joints.shape
    return pd.DataFrame(
        {
            "video": np.full(n * len(JOINTS), video, dtype=object),
            "frame": np.repeat(frames, len(JOINTS)),
            "time_s": np.repeat(times, len(JOINTS)),
            "joint": np.tile(np.array(JOINTS, dtype=object), n),
            "x": joints[..., 0].ravel(),
            "y": joints[..., 1].ravel(),
            "z": joints[..., 2].ravel(),
        }
    )
