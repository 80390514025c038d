"""`divekit analyze`: the report of a dive, the no-flight case, the default model, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from test_cli import assert_one_line_error, run, runner

from divekit.analyze import FRAME_COLUMNS, default_model_path, load_model, overlay_size
from divekit.commands import app
from divekit.divemetrics import SUMMARY_KEYS
from divekit.skeleton import JOINTS
from divekit.steady import moved_back
from divekit.synth import handheld_path
from divekit.video import VideoReader, VideoWriter

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def empty_pool(tmp_path_factory) -> Path:
    """A clip of an empty pool: texture and sensor noise, nothing falls."""
    folder = tmp_path_factory.mktemp("empty")
    rng = np.random.default_rng(0)
    scene = rng.integers(40, 200, size=(256, 128, 3)).astype(np.uint8)
    with VideoWriter(folder / "empty.mp4", 128, 256) as writer:
        for k in range(40):
            noise = rng.integers(-3, 4, size=scene.shape)
            writer.write(np.clip(scene.astype(int) + noise, 0, 255).astype(np.uint8), k / 30)
    return folder / "empty.mp4"


def analyze(*args):
    return run("analyze", *args)


def _transcode(source: Path, target: Path, codec: str) -> Path:
    """``source`` re-encoded with ``codec`` (PyAV), keeping every frame's time."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream_in = src.streams.video[0]
        stream = out.add_stream(codec, rate=stream_in.average_rate)
        stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = stream_in.time_base
        fastest = {"libx265": {"preset": "ultrafast"}, "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"}}
        stream.options = fastest.get(codec, {"preset": "12"} if codec == "libsvtav1" else {})
        for frame in src.decode(stream_in):
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return target


@pytest.mark.parametrize(
    ("codec", "name"), [("libx265", "dive1.mov"), ("libvpx-vp9", "dive1.webm"), ("libsvtav1", "dive1.mp4")]
)
def test_other_encodings_are_analysed(tmp_path, dive_folder, tiny_pose_model, codec, name):
    # HEVC is the iPhone's default; decord cannot decode AV1 (a clip saved from the web may be AV1),
    # PyAV reads it instead
    import av

    if codec not in av.codecs_available:
        pytest.skip(f"this PyAV has no {codec} encoder to make the clip with")
    clip = _transcode(dive_folder / "dive1.mp4", tmp_path / name, codec)  # a variable frame rate
    result = analyze(clip, "--model", tiny_pose_model, "-o", tmp_path / "reports")
    assert result.exit_code == 0, result.stderr
    frames = pd.read_csv(tmp_path / "reports" / "dive1" / "frames.csv")
    # WebM keeps milliseconds
    np.testing.assert_allclose(frames.time_s, VideoReader(dive_folder / "dive1.mp4").timestamps, atol=6e-4)


def test_report_has_frames_summary_and_plots(tmp_path, dive_folder, tiny_pose_model):
    out = tmp_path / "reports"
    result = analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out)
    assert result.exit_code == 0, result.stderr
    report = out / "dive0"
    for name in ("frames.csv", "summary.json", "height.png", "rotation.png", "skeletons.png"):
        assert (report / name).stat().st_size > 0, name
    assert not (report / "overlay.mp4").exists()
    frames = pd.read_csv(report / "frames.csv")
    assert list(frames.columns) == FRAME_COLUMNS
    reader = VideoReader(dive_folder / "dive0.mp4")
    assert len(frames) == len(reader)
    np.testing.assert_allclose(frames.time_s, reader.timestamps, atol=1e-4)
    assert set(frames.in_flight.unique()) <= {0, 1}
    summary = json.loads((report / "summary.json").read_text())
    assert set(SUMMARY_KEYS) <= set(summary) and summary["frames"] == len(reader)
    assert summary["model"] == str(tiny_pose_model)
    assert summary["window_px"] is None and summary["flight_frames_at_window_edge"] is None  # the working aspect
    if summary["flight_found"]:
        flight = frames[frames.in_flight == 1].time_s
        assert flight.min() == pytest.approx(summary["takeoff_time_s"], abs=0.05)  # the nearest frame
    # the joints are pelvis-centred: the mean of the hips is the origin
    hips = frames[[f"{j}_{a}" for j in ("left_hip", "right_hip") for a in "xyz"]].to_numpy().reshape(-1, 2, 3)
    np.testing.assert_allclose(hips.mean(1), 0, atol=0.15)


def test_overlay_video_keeps_every_frame_and_its_time(tmp_path, dive_folder, tiny_pose_model):
    out = tmp_path / "reports"
    result = analyze(dive_folder / "dive1.mp4", "--model", tiny_pose_model, "-o", out, "--overlay")
    assert result.exit_code == 0, result.stderr
    source, overlay = VideoReader(dive_folder / "dive1.mp4"), VideoReader(out / "dive1" / "overlay.mp4")
    assert len(overlay) == len(source)
    np.testing.assert_allclose(overlay.timestamps, source.timestamps, atol=1e-3)


@pytest.mark.parametrize(
    ("source", "written"),
    [((3840, 2160), (1920, 1080)), ((2160, 3840), (1080, 1920)), ((4096, 2160), (2048, 1080)),
     ((3000, 2001), (1620, 1080)), ((1920, 1080), None), ((256, 512), None)],
)  # fmt: skip
def test_the_overlay_of_a_video_beyond_full_hd_is_written_at_full_hd(source, written):
    assert overlay_size(source) == written


def test_overlay_of_a_large_video_is_scaled_with_its_drawing(tmp_path, dive_folder, tiny_pose_model, monkeypatch):
    import divekit.analyze

    monkeypatch.setattr(divekit.analyze, "OVERLAY_SHORT_SIDE", 96)  # the 128x256 clip counts as large
    out = tmp_path / "reports"
    result = analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out, "--overlay")
    assert result.exit_code == 0, result.stderr
    overlay = VideoReader(out / "dive0" / "overlay.mp4")
    assert (overlay.info.source_width, overlay.info.source_height) == (96, 192)
    # the box is drawn where the diver is, at the overlay's scale: its colour lies within the box (on
    # the lowest frame, clear of the text at the top)
    frames = pd.read_csv(out / "dive0" / "frames.csv")
    k = int(frames.box_cy.idxmax())
    image = overlay.read([k])[0].astype(int)
    yellow = (image[..., 0] - image[..., 2] > 80) & (image[..., 1] > 100)  # the box, after H.264's chroma
    ys, xs = np.nonzero(yellow)
    cx, cy, w, h = frames.loc[k, ["box_cx", "box_cy", "box_w", "box_h"]] * 0.75
    assert len(xs) and abs(xs.mean() - cx) < w / 2 + 2 and abs(ys.mean() - cy) < h / 2 + 2


def test_no_flight_says_so_and_invents_nothing(tmp_path, empty_pool, tiny_pose_model):
    out = tmp_path / "reports"
    result = analyze(empty_pool, "--model", tiny_pose_model, "-o", out)
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "empty" / "summary.json").read_text())
    assert summary["flight_found"] is False and "no flight" in summary["reason"]
    for key in ("takeoff_time_s", "flight_time_s", "metres_per_pixel", "apex_height_m", "somersaults"):
        assert summary[key] is None, key
    assert "no flight" in result.stdout
    frames = pd.read_csv(out / "empty" / "frames.csv")
    assert frames.in_flight.sum() == 0


def test_calibration_file_sets_the_scale_and_a_measured_one_can_be_saved(tmp_path, dive_folder, tiny_pose_model):
    calib = tmp_path / "cam.toml"
    calib.write_text("[calibration]\nmetres_per_pixel = 0.02\n")
    out = tmp_path / "reports"
    result = analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out, "--calibration", calib)
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "dive0" / "summary.json").read_text())
    if summary["flight_found"]:
        assert summary["metres_per_pixel"] == pytest.approx(0.02)
        assert summary["metres_per_pixel_source"] == "calibration"
    assert summary["calibration"] == str(calib)


def test_existing_report_is_kept_without_force_and_replaced_with_it(tmp_path, dive_folder, tiny_pose_model):
    out = tmp_path / "reports"
    assert analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out).exit_code == 0
    marker = out / "dive0" / "notes.txt"
    marker.write_text("the coach's notes")
    assert_one_line_error(analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out), "--force")
    assert marker.read_text() == "the coach's notes"
    result = analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    assert (out / "dive0" / "summary.json").exists() and not marker.exists()
    assert [p.name for p in out.iterdir()] == ["dive0"]  # no staging folder left behind


def test_names_with_brackets_are_printed_as_they_are(tmp_path, dive_folder, tiny_pose_model):
    # stdout is not rich markup: "[take 2]" in a file name is text, not a style tag to drop
    video = tmp_path / "dive [take 2].mp4"
    shutil.copy(dive_folder / "dive0.mp4", video)
    result = runner.invoke(app, ["analyze", str(video), "--model", str(tiny_pose_model), "-o", str(tmp_path / "[out]")],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "dive [take 2].mp4" in result.stdout and "[out]" in result.stdout
    assert (tmp_path / "[out]" / "dive [take 2]" / "summary.json").exists()


def test_bad_inputs_give_one_line_and_write_nothing(tmp_path, bad_videos, dive_folder, tiny_pose_model):
    out = tmp_path / "reports"
    assert_one_line_error(analyze(tmp_path / "missing.mp4", "--model", tiny_pose_model, "-o", out), "missing.mp4")
    assert_one_line_error(analyze(bad_videos["text"], "--model", tiny_pose_model, "-o", out), "")
    calib = tmp_path / "bad.toml"
    calib.write_text("[calibration]\nnote = 'no scale'\n")
    result = analyze(dive_folder / "dive0.mp4", "--model", tiny_pose_model, "-o", out, "--calibration", calib)
    assert_one_line_error(result, "metres_per_pixel")
    # a model checkpoint of another format version
    payload = torch.load(tiny_pose_model, weights_only=True)
    payload["version"] = 99
    other = tmp_path / "future.pt"
    torch.save(payload, other)
    assert_one_line_error(analyze(dive_folder / "dive0.mp4", "--model", other, "-o", out), "version 99")
    # a pretrain-gravity checkpoint is not a pose model
    assert_one_line_error(analyze(dive_folder / "dive0.mp4", "--model", tmp_path / "nope", "-o", out), "no model")
    # two videos of one name from two folders (two days' dive1.mp4) would share a report folder
    (tmp_path / "day2").mkdir()
    shutil.copy(dive_folder / "dive0.mp4", tmp_path / "day2" / "dive0.mp4")
    result = analyze(dive_folder / "dive0.mp4", tmp_path / "day2" / "dive0.mp4", "--model", tiny_pose_model, "-o", out)
    assert_one_line_error(result, f"{tmp_path / 'day2' / 'dive0.mp4'} share a name")
    assert not out.exists() or not any(out.iterdir())


def test_gravity_checkpoint_is_not_a_pose_model(tmp_path, dive_folder, grav_run):
    result = analyze(dive_folder / "dive0.mp4", "--model", grav_run / "checkpoint.pt", "-o", tmp_path / "r")
    assert_one_line_error(result, "pose model")


@pytest.mark.skipif(not default_model_path().exists(), reason="the default model is not built into this checkout")
def test_default_model_ships_small_and_analyzes_a_sample_clip(tmp_path):
    assert default_model_path().stat().st_size <= 20 * 2**20
    model, record, name = load_model(None)
    assert record["stage"] == "pose" and len(JOINTS) == 13
    clip = SAMPLE / "clip004_d4.mp4"
    work = tmp_path / "clip.mp4"
    shutil.copy(clip, work)  # no background PNG beside it: it is estimated
    result = analyze(work, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "clip" / "summary.json").read_text())
    assert summary["model"].startswith("default") and summary["flight_found"] is True
    # a diver the model never saw: take-off from the feet, entry from the splash, the flight to
    # within 3 frames, and the direction and count of the turn right (benchmarks/bench_analyze.py
    # measures all clips)
    truth = json.loads(clip.with_suffix(".json").read_text())
    assert summary["takeoff_source"] == "feet" and summary["entry_source"] == "splash"
    flight = truth["entry_time_s"] - truth["takeoff_time_s"]
    assert summary["flight_time_s"] == pytest.approx(flight, abs=3 / truth["fps"])
    assert summary["somersault_direction"] == truth["dive"]["direction"]
    assert summary["somersaults"] == pytest.approx(truth["dive"]["somersaults"], abs=0.25)


def test_a_video_of_two_dives_is_reported_for_one_and_names_the_other(tmp_path):
    # a session filmed without stopping: the same dive twice, timestamps running on
    source = VideoReader(SAMPLE / "clip004_d4.mp4")
    period = source.timestamps[-1] + float(np.median(np.diff(source.timestamps)))
    clip = tmp_path / "session.mp4"
    with VideoWriter(clip, source.info.width, source.info.height) as writer:
        for k in range(2):
            for _, frames, times in source.iter_batches(64):
                for frame, time_s in zip(frames, times, strict=True):
                    writer.write(frame, k * period + time_s)
    shutil.copy(SAMPLE / "clip004_d4.background.png", tmp_path / "session.background.png")
    result = analyze(clip, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "session" / "summary.json").read_text())
    truth = json.loads((SAMPLE / "clip004_d4.json").read_text())
    [(start, end)] = summary["other_flights"]
    reported = summary["takeoff_time_s"] > period  # either dive may be the reported one
    other = truth["takeoff_time_s"] + (0 if reported else period)
    assert start == pytest.approx(other, abs=0.3) and end - start == pytest.approx(summary["flight_time_s"], abs=0.4)
    assert "1 more free fall" in result.stdout


def test_a_hand_held_camera_is_held_still(tmp_path):
    # a sample dive made to sway as a phone in the hand does, up to some 7 px, and cut by 8 px on
    # every side (a camera shows the scene there, not a repeated edge); no background PNG
    source = VideoReader(SAMPLE / "clip004_d4.mp4")
    sway = handheld_path(source.timestamps, 4.0, np.random.default_rng(0))
    clip, (w, h) = tmp_path / "handheld.mp4", (source.info.width - 16, source.info.height - 16)
    with VideoWriter(clip, w, h, crf=18) as writer:
        for idx, frames, times in source.iter_batches(64):
            for k, frame, time_s in zip(idx, frames, times, strict=True):
                writer.write(moved_back(frame, -sway[k], (8, 8 + w, 8, 8 + h)), float(time_s))
    result = analyze(clip, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert "the camera moved by up to" in result.stdout
    summary = json.loads((tmp_path / "out" / "handheld" / "summary.json").read_text())
    assert summary["camera_sway_px"] > 4.0
    frames = pd.read_csv(tmp_path / "out" / "handheld" / "frames.csv")
    measured = frames[["camera_dx", "camera_dy"]].to_numpy()
    error = (measured - np.median(measured, axis=0)) - (sway - np.median(sway, axis=0))
    assert np.abs(error).max() < 0.6
    # taken for still, this clip's flight came out 21 frames long, its apex 1.9 m high and its scale
    # 11 % off; held still, 0.8 frames, 11 cm and 4.1 %. The frames written are the same from run
    # to run, but the file x264 makes of them is not (the renderer's files are; why, not found),
    # and on some of them this clip's take-off comes 5 frames later: hand-held take-off is the weak
    # end (benchmarks/RESULTS.md, "Hand-held cameras")
    truth = json.loads((SAMPLE / "clip004_d4.json").read_text())
    assert summary["takeoff_source"] == "feet" and summary["entry_source"] == "splash"
    flight = truth["entry_time_s"] - truth["takeoff_time_s"]
    assert summary["flight_time_s"] == pytest.approx(flight, abs=6 / truth["fps"])
    assert summary["apex_height_m"] == pytest.approx(truth["apex_height_m"], abs=0.4)
    assert summary["metres_per_pixel"] == pytest.approx(truth["metres_per_pixel"], rel=0.06)


def test_a_landscape_video_is_framed_not_squeezed(tmp_path):
    """A 512x256 clip for the 256x512 default model: squeezed into its frame, the silhouette's
    axis turned and 2½ somersaults were counted as 0.24 (forward); framed, the count is right."""
    from divekit.synth import random_clip_spec, render_clip

    spec = random_clip_spec(np.random.default_rng(5), diver=4, width=512, height=256, variable_fps=False)
    render_clip(spec, tmp_path, "landscape")
    result = analyze(tmp_path / "landscape.mp4", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "landscape" / "summary.json").read_text())
    truth = json.loads((tmp_path / "landscape.json").read_text())
    assert truth["dive"]["somersaults"] == 2.5 and truth["image_size"] == {"width": 512, "height": 256}
    assert summary["somersaults"] == pytest.approx(2.5, abs=0.25)
    assert summary["somersault_direction"] == truth["dive"]["direction"]
    assert summary["metres_per_pixel"] == pytest.approx(truth["metres_per_pixel"], rel=0.03)
    x, y, w, h = summary["window_px"]  # 512x256 scaled to 1024x512: a 256x512 window is 128x256 of the video
    assert 0 <= x <= 384 and (y, w, h) == (0, 128, 256) and summary["flight_frames_at_window_edge"] == 0
    frames = pd.read_csv(tmp_path / "out" / "landscape" / "frames.csv")
    assert frames["box_cx"].between(0, 512).all() and frames["box_cy"].between(0, 256).all()  # the video's own pixels


def test_the_summary_table_keeps_every_figure_whole_in_80_columns(tmp_path, dive_folder, tiny_pose_model):
    result = runner.invoke(app, ["analyze", str(dive_folder / "dive0.mp4"), str(dive_folder / "dive1.mp4"),
                                 "--model", str(tiny_pose_model), "-o", str(tmp_path / "out")],
                           env={"COLUMNS": "80"})  # fmt: skip
    assert result.exit_code == 0, result.stderr
    for stem in ("dive0", "dive1"):
        s = json.loads((tmp_path / "out" / stem / "summary.json").read_text())
        row = next(line for line in result.stdout.splitlines() if line.startswith(f"│ {stem} "))
        cells = [c.strip() for c in row.strip("│").split("│")]
        mpp = s["metres_per_pixel"]
        assert cells[2] == ("—" if mpp is None else f"{mpp:.4f}"), row
        assert cells[7] == (s["position"] or "—"), row
