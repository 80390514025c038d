"""Shared fixtures: tiny generated clips, made once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from divekit.video import VideoWriter, quantize_time


@dataclass
class FallingSquareClip:
    """A textured static scene with a dark square falling under constant acceleration."""

    path: Path
    background: np.ndarray  # (H, W, 3) uint8, the true empty scene
    times: np.ndarray  # (N,) seconds, as stored in the file
    centres: np.ndarray  # (N, 2) pixel centre (x, y) of the square


def make_falling_square(
    path: Path,
    *,
    width: int = 64,
    height: int = 128,
    frames: int = 40,
    variable_fps: bool = True,
    square: int = 6,
    seed: int = 0,
) -> FallingSquareClip:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [80 + 40 * np.sin(xx / 5.0), 120 + 30 * np.cos(yy / 7.0), 160 + 20 * np.sin((xx + yy) / 9.0)], axis=-1
    ).astype(np.uint8)
    steps = np.full(frames - 1, 1 / 30)
    if variable_fps:  # a phone switching from 30 to 60 fps half-way
        steps[frames // 2 :] = 1 / 60
    times = quantize_time(np.concatenate([[0.0], np.cumsum(steps)]))
    t_end = times[-1]
    # fall from near the top to near the bottom over the clip: y = y0 + 0.5 a t^2
    y0, y1 = square + 2, height - square - 3
    accel = 2 * (y1 - y0) / t_end**2
    centres = np.stack([np.full(frames, width / 2), y0 + 0.5 * accel * times**2], axis=1)
    with VideoWriter(path, width, height, fps_hint=30, crf=18) as writer:
        for t, (cx, cy) in zip(times, centres, strict=True):
            frame = background.copy()
            x0, y0_ = int(round(cx - square / 2)), int(round(cy - square / 2))
            frame[y0_ : y0_ + square, x0 : x0 + square] = (20, 20, 20)
            noisy = np.clip(frame.astype(np.int16) + rng.integers(-2, 3, frame.shape), 0, 255).astype(np.uint8)
            writer.write(noisy, float(t))
    return FallingSquareClip(path, background, times, centres)


@pytest.fixture(scope="session")
def falling_square(tmp_path_factory) -> FallingSquareClip:
    return make_falling_square(tmp_path_factory.mktemp("clips") / "square.mp4")


@pytest.fixture(scope="session")
def bad_videos(tmp_path_factory) -> dict[str, Path]:
    """Files that are not usable videos, each for one error message."""
    import av

    root = tmp_path_factory.mktemp("bad")
    text = root / "notes.mp4"
    text.write_text("this is a text file, not a video\n")
    empty = root / "empty.mp4"
    container = av.open(str(empty), "w")
    stream = container.add_stream("libx264", rate=30)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    container.start_encoding()
    container.close()
    return {"text": text, "empty": empty, "missing": root / "missing.mp4"}


@pytest.fixture(scope="session")
def dive_folder(tmp_path_factory) -> Path:
    """Two small synthetic dives (128x256, a 10 m and a 3 m) with truth, for pipeline tests."""
    from divekit.synth import random_clip_spec, render_clip

    folder = tmp_path_factory.mktemp("dives")
    for i, height in enumerate((10.0, 3.0)):
        spec = random_clip_spec(
            np.random.default_rng(100 + i), diver=i, width=128, height=256, height_m=height, variable_fps=i == 1
        )
        render_clip(spec, folder, f"dive{i}")
    return folder


TINY_TOML = """
[model]
frame_size = [128, 256]
[train]
batch = 2
checkpoint_every = 2
log_every = 1
"""


@pytest.fixture()
def tiny_config(tmp_path) -> Path:
    """A [model]/[train] config small enough for a few training steps in a test."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


@pytest.fixture(scope="session")
def grav_run(tmp_path_factory, dive_folder) -> Path:
    """A 2-step pretrain-gravity run on the two tiny dives (128x256)."""
    from test_cli import run

    folder = tmp_path_factory.mktemp("grav")
    config = folder / "tiny.toml"
    config.write_text("[model]\nframe_size = [128, 256]\n[train]\nbatch = 2\ncheckpoint_every = 2\n")
    result = run("pretrain-gravity", dive_folder, "-o", folder / "run", "--config", config, "--steps", 2)
    assert result.exit_code == 0, result.stderr
    return folder / "run"


@pytest.fixture(scope="session")
def tiny_pose_model(tmp_path_factory, dive_folder, grav_run) -> Path:
    """model.pt of a 1-step train run with the tiny dives' truth as labels."""
    from test_cli import run

    folder = tmp_path_factory.mktemp("posemodel")
    config = folder / "train.toml"
    config.write_text("[train]\nbatch = 2\n[pose]\nsteps = 30\nbatch = 32\n")
    out = folder / "run"
    result = run("train", dive_folder, "--init", grav_run, "-o", out, "--config", config, "--labels", dive_folder,
                 "--steps", 1)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out / "model.pt"
