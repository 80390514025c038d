"""Reading pose label files: the synth format as-is, round trips, and one clear error per bad input."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divekit.errors import DivekitError
from divekit.labels import VideoLabels, check_frames, every_kth, poses_dataframe, read_labels, video_stem
from divekit.skeleton import JOINTS

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def table(video: str = "clip", frames: int = 4, seed: int = 0) -> pd.DataFrame:
    joints = np.random.default_rng(seed).normal(size=(frames, 13, 3))
    return poses_dataframe(video, np.arange(frames), np.arange(frames) / 30, joints)


def write(tmp_path: Path, df: pd.DataFrame, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def error_of(paths) -> str:
    with pytest.raises(DivekitError) as info:
        read_labels([Path(p) for p in paths])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_the_synth_truth_file_as_is():
    path = SAMPLE / "clip000_d0.truth.csv"
    labels = read_labels([path])
    assert list(labels) == ["clip000_d0"]
    clip = labels["clip000_d0"]
    raw = pd.read_csv(path)
    n = raw["frame"].nunique()
    assert clip.frames.tolist() == list(range(n))
    assert clip.xyz.shape == (n, 13, 3) and clip.uv.shape == (n, 13, 2)
    # rows are frame-major in JOINTS order, so the file's own order is the array order
    assert np.allclose(clip.xyz.reshape(-1, 3), raw[["x", "y", "z"]].to_numpy())
    assert np.allclose(clip.uv.reshape(-1, 2), raw[["u", "v"]].to_numpy())


def test_a_folder_reads_every_truth_file():
    labels = read_labels([SAMPLE])
    assert len(labels) == len(list(SAMPLE.glob("*.truth.csv"))) == 25
    assert all(v.xyz is not None and v.uv is not None for v in labels.values())


def test_round_trip_through_poses_dataframe(tmp_path):
    df = pd.concat([table("dives/a.mp4", 5, seed=1), table("b", 3, seed=2)])
    assert list(df.columns) == ["video", "frame", "time_s", "joint", "x", "y", "z"]
    assert len(df) == (5 + 3) * 13 and df["joint"].tolist()[:13] == list(JOINTS)
    labels = read_labels([write(tmp_path, df, "poses.csv")])
    assert sorted(labels) == ["a", "b"]  # a file name in the video column becomes its stem
    a = labels["a"]
    assert a.frames.tolist() == [0, 1, 2, 3, 4] and a.uv is None
    expected = df[df["video"] == "dives/a.mp4"][["x", "y", "z"]].to_numpy().reshape(5, 13, 3)
    assert np.array_equal(a.xyz, expected)


def test_row_order_and_extra_columns_do_not_matter(tmp_path):
    df = table(frames=3).drop(columns="video")
    df["score"] = 0.5
    shuffled = df.sample(frac=1.0, random_state=0)
    clip = read_labels([write(tmp_path, shuffled, "clip.csv")])["clip"]  # no video column: named by the file
    assert clip.frames.tolist() == [0, 1, 2]
    assert np.array_equal(clip.xyz.reshape(-1, 3), df[["x", "y", "z"]].to_numpy())


def test_video_names_from_file_names_and_column_values(tmp_path):
    df = table(frames=1).drop(columns="video")
    assert list(read_labels([write(tmp_path, df, "dive7.truth.csv")])) == ["dive7"]
    assert list(read_labels([write(tmp_path, df, "dive8.csv")])) == ["dive8"]
    assert video_stem("clip3.MP4") == "clip3" and video_stem("/x/clip3.mov") == "clip3"
    assert video_stem("clip3") == "clip3" and video_stem("take.2") == "take.2"


def test_2d_only_labels(tmp_path):
    df = table(frames=2).rename(columns={"x": "u", "y": "v"}).drop(columns="z")
    clip = read_labels([write(tmp_path, df)])["clip"]
    assert clip.xyz is None and clip.uv.shape == (2, 13, 2)


def test_same_file_given_twice_is_read_once(tmp_path):
    path = write(tmp_path, table().drop(columns="video"), "clip.truth.csv")
    assert list(read_labels([path, tmp_path])) == ["clip"]


# --- errors: one line that names the file and the problem ---------------------------------------------


def test_missing_paths_and_empty_folders(tmp_path):
    assert "no such file or folder" in error_of([tmp_path / "nope.csv"])
    assert "no label files (*.truth.csv) in folder" in error_of([tmp_path])
    with pytest.raises(DivekitError, match="no label files given"):
        read_labels([])


def test_unreadable_and_empty_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty.csv is empty" in error_of([empty])
    header = tmp_path / "header.csv"
    header.write_text("frame,joint,x,y,z\n")
    assert "header.csv has a header but no label rows" in error_of([header])
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"frame,joint\n\xff\xfe\x00\x81\x82\n")
    assert "cannot read" in error_of([binary]) and "binary.csv" in error_of([binary])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("frame,joint,x,y,z\n0,head,1,2,3\n0,head,1,2,3,4,5\n")
    assert "cannot read" in error_of([ragged]) and "ragged.csv" in error_of([ragged])


def test_missing_columns_are_named(tmp_path):
    message = error_of([write(tmp_path, table().drop(columns=["frame"]))])
    assert "labels.csv: missing column(s) frame" in message
    message = error_of([write(tmp_path, table().drop(columns=["z"]))])
    assert "missing z" in message and "missing u, v" in message


def test_unknown_joint_names(tmp_path):
    df = table()
    df.loc[3, "joint"] = "neck"
    df.loc[30, "joint"] = "pelvis"
    message = error_of([write(tmp_path, df)])
    assert "unknown joint name(s) 'neck', 'pelvis' (first on line 5)" in message
    assert "valid names: head, left_shoulder" in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "abc", ""])
def test_non_finite_or_non_numeric_coordinates(tmp_path, value):
    df = table().astype({"y": object})
    df.loc[7, "y"] = value
    message = error_of([write(tmp_path, df)])
    assert f"labels.csv: line 9: y is {value!r}, not a finite number" in message


@pytest.mark.parametrize(("value", "problem"), [("-1", "frame -1 is negative"), ("1.5", "frame 1.5 is not a whole")])
def test_bad_frame_indices(tmp_path, value, problem):
    df = table().astype({"frame": object})
    df.loc[0, "frame"] = value
    message = error_of([write(tmp_path, df)])
    assert "line 2" in message and problem in message


def test_duplicate_rows(tmp_path):
    df = table()
    df = pd.concat([df, df.iloc[[14]]], ignore_index=True)  # frame 1, left_shoulder again
    message = error_of([write(tmp_path, df)])
    assert "joint left_shoulder of frame 1 of video 'clip' is labelled twice (first on line 16)" in message


def test_frame_lacking_joints(tmp_path):
    df = table()
    df = df.drop(index=[2 * 13 + 4, 2 * 13 + 12])  # frame 2: right_elbow, right_ankle
    message = error_of([write(tmp_path, df)])
    assert "frame 2 of video 'clip' lacks joint(s) right_elbow, right_ankle" in message


def test_same_video_in_two_files(tmp_path):
    first = write(tmp_path, table("clip"), "a.csv")
    second = write(tmp_path, table("clip.mp4"), "b.csv")
    message = error_of([first, second])
    assert "video 'clip' is labelled in two files" in message and "a.csv" in message and "b.csv" in message


def test_empty_video_name(tmp_path):
    df = table()
    df.loc[5, "video"] = ""
    assert "line 7: empty video name" in error_of([write(tmp_path, df)])


# --- checks against the inputs, and subsampling ---------------------------------------------------------


def labelled(frames, video: str = "clip") -> VideoLabels:
    frames = np.asarray(frames, dtype=np.int64)
    xyz = np.arange(len(frames) * 39, dtype=float).reshape(-1, 13, 3)
    return VideoLabels(video, frames, xyz, None)


def test_check_frames():
    labels = {"clip": labelled([0, 5, 9])}
    check_frames(labels, {"clip": 10, "other": 3})
    with pytest.raises(DivekitError, match="reach frame 9, but it has 9 frames"):
        check_frames(labels, {"clip": 9})
    with pytest.raises(DivekitError, match=r"'clip', which is not among the inputs \(a, b\)"):
        check_frames(labels, {"b": 10, "a": 10})


@pytest.mark.parametrize(
    ("fraction", "positions"),
    [
        (1.0, list(range(50))),  # K = 1: everything
        (0.2, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]),  # K = round(5) = 5
        (0.05, [0, 20, 40]),  # K = round(20) = 20
        (0.3, list(range(0, 50, 3))),  # K = round(3.33) = 3
    ],
)
def test_every_kth_keeps_positions_that_are_multiples_of_k(fraction, positions):
    frames = np.arange(50) * 2 + 7  # labelled frames 7, 9, 11, ...: positions, not frame numbers, count
    sub = every_kth(labelled(frames), fraction)
    assert sub.frames.tolist() == frames[positions].tolist()
    assert np.array_equal(sub.xyz, labelled(frames).xyz[positions]) and sub.uv is None


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_every_kth_rejects_fractions_outside_0_1(fraction):
    with pytest.raises(DivekitError, match=r"label fraction must be in \(0, 1\]"):
        every_kth(labelled([0, 1]), fraction)
