"""`divekit pretrain-gravity` end to end on tiny clips, and its bad-input contract."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from test_cli import assert_one_line_error, run

from divekit.checkpoint import load_checkpoint
from divekit.video import VideoReader, VideoWriter


def train(folder, out, config, *extra):
    return run("pretrain-gravity", folder, "-o", out, "--config", config, *extra)


def test_writes_checkpoint_boxes_plots_and_preview(tmp_path, dive_folder, tiny_config):
    out = tmp_path / "run"
    result = train(dive_folder, out, tiny_config, "--steps", 3)
    assert result.exit_code == 0, result.stderr
    for name in ("checkpoint.pt", "boxes.csv", "losses.csv", "losses.png", "heights.png", "preview.png"):
        assert (out / name).stat().st_size > 0, name
    boxes = pd.read_csv(out / "boxes.csv")
    assert list(boxes.columns) == ["video", "frame", "time_s", "box_cx", "box_cy", "box_w", "box_h"]
    for video in ("dive0.mp4", "dive1.mp4"):
        reader = VideoReader(dive_folder / video)
        rows = boxes[boxes.video == video]
        assert rows.frame.tolist() == list(range(len(reader)))
        np.testing.assert_allclose(rows.time_s, reader.timestamps, atol=1e-3)
        assert rows.box_cx.between(0, reader.info.width).all() and rows.box_cy.between(0, reader.info.height).all()
    record, state = load_checkpoint(out)
    assert record["stage"] == "gravity" and record["model"]["preset"] == "small" and state["step"] == 3
    assert {"recon", "const_acc", "order", "scale", "proposal"} <= set(pd.read_csv(out / "losses.csv").columns)
    # the energy detector starts on the diver: the proposals do not pull its attention
    assert record["gravity"]["attention_weight"] == 0.0 and "attention" not in pd.read_csv(out / "losses.csv")


def test_learned_heatmap_is_taught_the_proposals_attention(tmp_path, dive_folder, tiny_config):
    config = tmp_path / "learned.toml"
    config.write_text(tiny_config.read_text().replace("[model]", "[model]\ndetector_energy = false", 1))
    out = tmp_path / "run"
    result = train(dive_folder, out, config, "--steps", 2)
    assert result.exit_code == 0, result.stderr
    record, _ = load_checkpoint(out)
    assert record["model"]["detector_energy"] is False and record["gravity"]["attention_weight"] == 1.0
    losses = pd.read_csv(out / "losses.csv")
    assert (losses["attention"] > 0).all()


def test_resume_continues_exactly(tmp_path, dive_folder, tiny_config):
    assert train(dive_folder, tmp_path / "straight", tiny_config, "--steps", 4).exit_code == 0
    assert train(dive_folder, tmp_path / "split", tiny_config, "--steps", 2).exit_code == 0
    result = train(dive_folder, tmp_path / "split", tiny_config, "--steps", 4, "--resume")
    assert result.exit_code == 2 or "cannot change" in result.stderr  # --config is not allowed on resume
    result = run("pretrain-gravity", dive_folder, "-o", tmp_path / "split", "--steps", 4, "--resume")
    assert result.exit_code == 0, result.stderr
    _, a = load_checkpoint(tmp_path / "straight")
    _, b = load_checkpoint(tmp_path / "split")
    assert b["step"] == 4
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_no_gravity_trains_reconstruction_only(tmp_path, dive_folder, tiny_config):
    out = tmp_path / "plain"
    assert train(dive_folder, out, tiny_config, "--steps", 2, "--no-gravity").exit_code == 0
    record, _ = load_checkpoint(out)
    assert record["gravity"]["use_gravity"] is False
    assert set(pd.read_csv(out / "losses.csv").columns) == {"step", "elapsed_s", "recon", "total"}


def test_folder_without_videos(tmp_path, tiny_config):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(train(tmp_path / "empty", tmp_path / "run", tiny_config), "no videos")


def test_clip_shorter_than_four_frames(tmp_path, tiny_config):
    short = tmp_path / "clips" / "short.mp4"
    short.parent.mkdir()
    with VideoWriter(short, 64, 128) as writer:
        for i in range(3):
            writer.write(np.full((128, 64, 3), 50 * i, np.uint8), i / 30)
    assert_one_line_error(train(short.parent, tmp_path / "run", tiny_config), "at least 4 are needed")


def test_background_of_another_size(tmp_path, dive_folder, tiny_config):
    folder = tmp_path / "clips"
    shutil.copytree(dive_folder, folder)
    from divekit.background import save_png

    save_png(np.zeros((10, 20, 3), np.uint8), folder / "dive1.background.png")
    assert_one_line_error(train(folder, tmp_path / "run", tiny_config), "is 20x10 but dive1.mp4 is 128x256")


def test_resume_with_another_preset_or_without_a_run(tmp_path, dive_folder, tiny_config):
    out = tmp_path / "run"
    assert_one_line_error(run("pretrain-gravity", dive_folder, "-o", out, "--resume"), "no checkpoint")
    assert train(dive_folder, out, tiny_config, "--steps", 1).exit_code == 0
    before = (out / "checkpoint.pt").read_bytes()
    result = run("pretrain-gravity", dive_folder, "-o", out, "--resume", "--preset", "paper", "--steps", 2)
    assert_one_line_error(result, "preset 'small', not 'paper'")
    assert_one_line_error(train(dive_folder, out, tiny_config, "--steps", 1), "already holds a run")
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[model]\ncrop_sise = 64\n", "unknown key 'crop_sise' in [model]"),
        ("[train]\nsteps = 5\nlearning_rate = 1.0\n", "unknown key 'learning_rate'"),
        ("[optimizer]\nlr = 1\n", "unknown section [optimizer]"),
        ("[model\n", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path, dive_folder, text, fragment):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert_one_line_error(train(dive_folder, tmp_path / "run", config), fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_non_positive_steps(tmp_path, dive_folder, tiny_config, steps):
    assert_one_line_error(train(dive_folder, tmp_path / "run", tiny_config, "--steps", steps), "must be positive")
