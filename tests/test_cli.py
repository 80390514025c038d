"""The command line: every command through typer's runner, and the error contract in a real process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from divekit import __version__
from divekit.background import load_png, mean_absolute_error
from divekit.commands import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def run_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "divekit", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.stdout
    result = run("--help")
    assert result.exit_code == 0
    for command in ("synth", "background"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("command", "sections"),
    [("pretrain-gravity", ("[model]", "[gravity]", "the [train] config")), ("train", ("[selfsup]", "[pose]"))],
)
def test_help_names_the_config_sections(command, sections):
    # the help is rich markup: unescaped, "[model]" would be read as a tag and vanish
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})  # one option per line
    assert result.exit_code == 0
    for section in sections:
        assert section in result.stdout


def test_background_writes_png_beside_the_video(tmp_path, falling_square):
    video = tmp_path / falling_square.path.name
    video.write_bytes(falling_square.path.read_bytes())
    result = run("background", video, "--method", "median")
    assert result.exit_code == 0, result.stderr
    image = load_png(tmp_path / "square.background.png")
    assert mean_absolute_error(image, falling_square.background) < 3


def test_background_refuses_to_overwrite_without_force(tmp_path, falling_square):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "square.background.png"
    target.write_bytes(b"precious")
    result = run("background", falling_square.path, "-o", out)
    assert_one_line_error(result, "--force")
    assert target.read_bytes() == b"precious"
    assert run("background", falling_square.path, "-o", out, "--force").exit_code == 0
    assert load_png(target).shape == (128, 64, 3)


@pytest.mark.parametrize(
    ("kind", "fragment"), [("missing", "no such"), ("text", "not a video"), ("empty", "no video frames")]
)
def test_background_bad_videos(tmp_path, bad_videos, kind, fragment):
    result = run("background", bad_videos[kind], "-o", tmp_path)
    assert_one_line_error(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_background_unwritable_output_folder(tmp_path, falling_square):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run("background", falling_square.path, "-o", blocker / "sub")
    assert_one_line_error(result, "cannot create output folder")
    assert blocker.read_text() == "not a folder"


def test_background_unknown_method(falling_square, tmp_path):
    assert_one_line_error(run("background", falling_square.path, "-o", tmp_path, "-m", "mean"), "unknown --method")


def test_errors_in_a_real_process_are_one_line_without_traceback(tmp_path, bad_videos):
    proc = run_process("background", bad_videos["text"], "-o", tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a video" in lines[0], proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_python_dash_m_and_version_in_a_real_process():
    proc = run_process("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_median_over_cli_matches_library(tmp_path, falling_square):
    from divekit.background import estimate_background
    from divekit.video import VideoReader

    assert run("background", falling_square.path, "-o", tmp_path, "-m", "median").exit_code == 0
    expected, _ = estimate_background(VideoReader(falling_square.path), "median")
    np.testing.assert_array_equal(load_png(tmp_path / "square.background.png"), expected)


def test_synth_writes_clips_splits_and_contact_sheet(tmp_path):
    out = tmp_path / "data"
    result = run(
        "synth", out, "--clips", 2, "--seed", 3, "--width", 64, "--height", 128,
        "--divers", "1,2", "--heldout-diver", 2, "--contact-sheet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    suffixes = (".mp4", ".truth.csv", ".json", ".background.png")
    clips = [f"clip00{i}_d{d}{sfx}" for i, d in ((0, 1), (1, 2)) for sfx in suffixes]
    assert names == sorted(clips + ["contact_sheet.png", "splits.json"])
    import json

    split = json.loads((out / "splits.json").read_text())
    assert split == {"heldout_diver": 2, "train": ["clip000_d1"], "heldout": ["clip001_d2"]}


def test_synth_refuses_to_overwrite_and_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "data"
    assert run("synth", out, "--clips", 1, "--width", 64, "--height", 128).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = run("synth", out, "--clips", 1, "--width", 64, "--height", 128, "--seed", 9)
    assert_one_line_error(result, "--force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert run("synth", out, "--clips", 1, "--width", 64, "--height", 128, "--seed", 9, "--force").exit_code == 0
    assert {p.name for p in out.iterdir()} == set(before)  # no staging folder or temporary left


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--clips", "0"), "--clips must be at least 1"),
        (("--width", "65"), "even"),
        (("--divers", "a,b"), "comma-separated"),
        (("--divers", "9"), "divers must be in"),
        (("--fps", "5"), "fps must be within"),
    ],
)
def test_synth_bad_arguments(tmp_path, args, fragment):
    result = run("synth", tmp_path / "out", *args)
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_synth_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(run("synth", blocker / "out", "--clips", 1), "cannot create output folder")
