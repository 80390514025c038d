"""`divekit evaluate` through typer's runner: known figures, the JSON file, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from divekit.commands import app
from divekit.labels import poses_dataframe, read_labels
from divekit.skeleton import J

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
CLIP = "clip000_d0"
TRUTH = SAMPLE / f"{CLIP}.truth.csv"

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def write_prediction(path: Path, video: str = CLIP, offset=(0.0, 0.0, 0.0), step: int = 1) -> int:
    """Write the truth of ``video`` as a prediction, head moved by ``offset``; returns the frames written."""
    truth = read_labels([SAMPLE / f"{video}.truth.csv"])[video]
    xyz = truth.xyz[::step].copy()
    xyz[:, J["head"]] += offset
    frames = truth.frames[::step]
    poses_dataframe(video, frames, frames / 30.0, xyz).to_csv(path, index=False)
    return len(frames)


def test_perfect_prediction_gives_zeros(tmp_path):
    pred, out = tmp_path / "poses.csv", tmp_path / "report.json"
    frames = write_prediction(pred)
    result = run("evaluate", pred, TRUTH, "--json", out)
    assert result.exit_code == 0, result.stderr
    assert "overall" in result.stdout and "left_ankle" in result.stdout
    assert f"{frames} frames of 1 video matched" in result.stdout
    report = json.loads(out.read_text())
    assert report["frames"] == frames
    assert report["mpjpe_mm"] == report["n_mpjpe_mm"] == report["p_mpjpe_mm"] == 0.0
    assert report["videos"] == {CLIP: {"frames": frames, "mpjpe_mm": 0.0, "n_mpjpe_mm": 0.0, "p_mpjpe_mm": 0.0}}
    assert report["unmatched_videos"] == []


def test_known_head_offset_against_a_truth_folder(tmp_path):
    pred, out = tmp_path / "poses.csv", tmp_path / "report.json"
    frames = write_prediction(pred, offset=(0.03, 0.0, 0.04), step=3)  # 3-4-5: 50 mm, every 3rd frame only
    result = run("evaluate", pred, SAMPLE, "--json", out)  # the folder: 25 truth files, one matches
    assert result.exit_code == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["frames"] == frames and list(report["videos"]) == [CLIP]
    # the hips are untouched so the pelvis is too: 50 mm on the head, 0 elsewhere, 50/13 = 3.85 overall
    assert report["per_joint"]["head"]["mpjpe_mm"] == 50.0
    assert report["per_joint"]["right_knee"]["mpjpe_mm"] == 0.0
    assert report["mpjpe_mm"] == 3.8
    assert report["videos"][CLIP]["mpjpe_mm"] == 3.8
    head_row = next(line for line in result.stdout.splitlines() if "head" in line)
    assert "50.0" in head_row


def test_json_is_not_overwritten_without_force(tmp_path):
    pred, out = tmp_path / "poses.csv", tmp_path / "report.json"
    write_prediction(pred, step=10)
    out.write_text("precious")
    assert_one_line_error(run("evaluate", pred, TRUTH, "--json", out), "--force")
    assert out.read_text() == "precious"
    assert run("evaluate", pred, TRUTH, "--json", out, "--force").exit_code == 0
    assert json.loads(out.read_text())["mpjpe_mm"] == 0.0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_unmatched_predicted_videos_are_reported(tmp_path):
    pred = tmp_path / "poses.csv"
    write_prediction(pred, step=10)
    other = pd.read_csv(pred).assign(video="not_in_truth")
    pd.concat([pd.read_csv(pred), other]).to_csv(pred, index=False)
    result = run("evaluate", pred, TRUTH)
    assert result.exit_code == 0, result.stderr
    assert "no truth for 1 predicted video(s): not_in_truth" in result.stdout


def test_bad_inputs_are_one_line_errors(tmp_path):
    pred = tmp_path / "poses.csv"
    write_prediction(pred, step=10)
    assert_one_line_error(run("evaluate", tmp_path / "missing.csv", TRUTH), "no such file or folder")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert_one_line_error(run("evaluate", pred, empty_dir), "no label files")
    assert_one_line_error(run("evaluate", pred, tmp_path, "--json", tmp_path), "is a folder")

    # no common video: a prediction without a video column is named after its file
    nameless = tmp_path / "nameless.csv"
    pd.read_csv(pred).drop(columns="video").to_csv(nameless, index=False)
    assert_one_line_error(run("evaluate", nameless, TRUTH), "no video is in both the prediction ('nameless')")

    # the right video, but no common frame
    shifted = tmp_path / "shifted.csv"
    pd.read_csv(pred).assign(frame=lambda d: d["frame"] + 100_000).to_csv(shifted, index=False)
    assert_one_line_error(run("evaluate", shifted, TRUTH), "no labelled frame is in both")

    # a 2D-only prediction
    flat = tmp_path / "flat.csv"
    pd.read_csv(pred).rename(columns={"x": "u", "y": "v"}).drop(columns="z").to_csv(flat, index=False)
    assert_one_line_error(run("evaluate", flat, TRUTH), "no 3D joints")

    # a broken prediction file
    broken = tmp_path / "broken.csv"
    pd.read_csv(pred).assign(joint="neck").to_csv(broken, index=False)
    assert_one_line_error(run("evaluate", broken, TRUTH), "unknown joint name(s) 'neck'")


def test_truth_without_3d_is_an_error(tmp_path):
    pred = tmp_path / "poses.csv"
    write_prediction(pred, step=10)
    flat_truth = tmp_path / f"{CLIP}.truth.csv"
    pd.read_csv(TRUTH).drop(columns=["x", "y", "z"]).to_csv(flat_truth, index=False)
    assert_one_line_error(
        run("evaluate", pred, flat_truth), f"the truth has no 3D joints (columns x, y, z) for video '{CLIP}'"
    )
