import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from divekit.calibration import Camera
from divekit.errors import DivekitError
from divekit.skeleton import BONES, JOINTS, bone_lengths, centre_of_mass, pelvis, torso_frame
from divekit.synth import (
    DIVERS,
    HEIGHTS,
    POSITIONS,
    ClipSpec,
    DiveSpec,
    contact_sheet,
    dataset_specs,
    random_clip_spec,
    render_clip,
    render_frames,
)
from divekit.synth_body import DiveMotion
from divekit.video import VideoReader

G = 9.81


def tiny_spec(seed: int, dive: DiveSpec, *, fps: float = 30.0, vfr: bool = False, size=(64, 128), **kw) -> ClipSpec:
    base = random_clip_spec(np.random.default_rng(seed), width=size[0], height=size[1])
    return dataclasses.replace(base, dive=dive, fps=fps, variable_fps=vfr, approach_s=0.5, post_entry_s=0.4, **kw)


def load(paths):
    mp4, csv, meta, png = paths
    truth = pd.read_csv(csv)
    info = json.loads(meta.read_text())
    n = info["frame_count"]
    xyz = truth[["x", "y", "z"]].to_numpy().reshape(n, 13, 3)
    uv = truth[["u", "v"]].to_numpy().reshape(n, 13, 2)
    times = truth["time_s"].to_numpy()[::13]
    return truth, info, xyz, uv, times


@pytest.fixture(scope="module")
def pike_clip(tmp_path_factory):
    spec = tiny_spec(1, DiveSpec(5.0, "forward", 1.5, 0.0, "pike"), camera_side=1)
    return spec, render_clip(spec, tmp_path_factory.mktemp("pike"), "pike")


@pytest.fixture(scope="module")
def tower_clip(tmp_path_factory):
    """A small diver: 10 m back 2½ tuck at 64x128, 60 fps."""
    spec = tiny_spec(2, DiveSpec(10.0, "backward", 2.5, 0.0, "tuck"), fps=60.0, camera_side=-1)
    return spec, render_clip(spec, tmp_path_factory.mktemp("tower"), "tower")


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    spec = tiny_spec(3, DiveSpec(3.0, "forward", 1.0, 1.0, "straight"), fps=29.97, vfr=True)
    return spec, render_clip(spec, tmp_path_factory.mktemp("vfr"), "vfr")


ALL = ["pike_clip", "tower_clip", "vfr_clip"]


@pytest.mark.parametrize("name", ALL)
def test_file_formats(name, request):
    spec, paths = request.getfixturevalue(name)
    assert [p.exists() for p in paths] == [True] * 4
    truth, info, xyz, uv, times = load(paths)
    assert list(truth.columns) == ["frame", "time_s", "joint", "x", "y", "z", "u", "v"]
    assert list(truth["joint"][:13]) == list(JOINTS)
    for key in (
        "fps", "variable_fps", "intrinsics", "camera", "image_size", "diver", "dive", "takeoff_time_s",
        "entry_time_s", "com_entry_time_s", "metres_per_pixel", "apex_height_m", "entry_speed_m_s",
        "com_track", "in_flight", "g", "seed",
    ):  # fmt: skip
        assert key in info, key
    assert set(info["dive"]) >= {"height_m", "direction", "somersaults", "twists", "position", "name"}
    assert info["image_size"] == {"width": spec.width, "height": spec.height}
    assert len(info["in_flight"]) == len(times) == len(info["com_track"]["time_s"])
    assert info["takeoff_time_s"] < info["entry_time_s"] < info["com_entry_time_s"] < times[-1]
    assert 0.4 <= times[-1] - info["entry_time_s"] <= 0.9 + 1 / 24
    bg = np.asarray(Image.open(paths[3]))
    assert bg.shape == (spec.height, spec.width, 3) and bg.dtype == np.uint8
    assert len(VideoReader(paths[0])) == len(times)


@pytest.mark.parametrize("name", ALL)
def test_com_is_ballistic_in_world(name, request):
    _, paths = request.getfixturevalue(name)
    _, info, xyz, _, times = load(paths)
    cam = Camera.from_dict(info["camera"])
    com = cam.camera_to_world(centre_of_mass(xyz))
    fl = np.array(info["in_flight"])
    assert fl.sum() > 10
    ay = 2 * np.polyfit(times[fl], com[fl, 1], 2)[0]
    ax = 2 * np.polyfit(times[fl], com[fl, 0], 2)[0]
    assert ay == pytest.approx(-G, abs=0.01)
    assert ax == pytest.approx(0.0, abs=0.01)
    # the JSON COM track is the truth COM; in camera frame
    track = np.stack([info["com_track"][k] for k in "xyz"], -1)
    assert track == pytest.approx(centre_of_mass(xyz), abs=1e-5)
    # the body keeps going down after entry, decelerating
    wet = times > info["entry_time_s"]
    assert np.all(np.diff(com[wet, 1]) < 0)
    speed_in = np.abs(np.diff(com[wet, 1]) / np.diff(times[wet]))
    assert speed_in[-1] < speed_in[0]


@pytest.mark.parametrize("diver", range(len(DIVERS)))
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_toes_stay_on_the_board_until_take_off(diver, direction):
    # Take-off is the moment the body leaves the board: before it, through the crouch and the
    # extension, the lowest surface point stays on the board (the standing diver's level, within
    # 1 mm); from it on, the body is in the air and that point rises.
    motion = DiveMotion(
        DIVERS[diver], height_m=5.0, direction=direction, somersaults=1.5, twists=0.0, position="pike",
        takeoff_velocity=(1.2, 3.8), approach_s=0.7, g=G,
    )  # fmt: skip
    t = np.linspace(0.0, motion.t0 + 0.1, 1601)
    lowest = np.min(motion.points(t)[..., 1] - motion.radii, axis=-1)
    on_board, flying = t < motion.t0, t > motion.t0
    assert np.abs(lowest[on_board] - motion.contact_y).max() < 1e-3
    assert lowest[flying].min() >= motion.contact_y - 1e-6
    assert np.all(np.diff(lowest[flying]) > 0)
    assert motion.contact_y == pytest.approx(5.0, abs=0.02)  # the board's surface, within 2 cm


@pytest.mark.parametrize("name", ALL)
def test_projection_frame_and_rigidity(name, request):
    spec, paths = request.getfixturevalue(name)
    _, info, xyz, uv, _ = load(paths)
    cam = Camera.from_dict(info["camera"])
    assert np.abs(cam.project(xyz) - uv).max() < 1e-3
    fl = np.array(info["in_flight"])
    assert (uv[fl, :, 0] >= 0).all() and (uv[fl, :, 0] < spec.width).all()
    assert (uv[fl, :, 1] >= 0).all() and (uv[fl, :, 1] < spec.height).all()
    lengths = bone_lengths(xyz)
    assert np.abs(lengths - lengths[0]).max() < 1e-5
    assert len(BONES) == lengths.shape[1]


def _lateral_turns(xyz: np.ndarray) -> float:
    """Summed rotation of the torso frame about its own lateral axis, in turns."""
    from scipy.spatial.transform import Rotation

    frames = torso_frame(xyz)
    rel = Rotation.from_matrix(frames[1:] @ np.swapaxes(frames[:-1], 1, 2)).as_rotvec()
    return float(np.sum(np.einsum("nc,nc->n", rel, frames[:-1, :, 1])) / (2 * np.pi))


@pytest.mark.parametrize("name", ["pike_clip", "tower_clip"])
def test_somersault_count(name, request):
    spec, paths = request.getfixturevalue(name)
    _, info, xyz, _, times = load(paths)
    a = np.nonzero(times <= info["takeoff_time_s"])[0][-1]
    b = np.nonzero(times >= info["entry_time_s"])[0][0]
    turns = _lateral_turns(xyz[a : b + 1])
    assert abs(turns) == pytest.approx(spec.dive.somersaults, abs=0.05)
    # forward dives rotate forward about the body's lateral axis, back dives backward
    assert np.sign(turns) == (1 if spec.dive.direction == "forward" else -1)


def test_twisting_dive_turns_about_world_axis(vfr_clip):
    spec, paths = vfr_clip
    _, info, xyz, _, times = load(paths)
    cam = Camera.from_dict(info["camera"])
    up = torso_frame(xyz)[..., 2] @ cam.R  # the trunk's up axis in world coordinates
    a = np.nonzero(times <= info["takeoff_time_s"])[0][-1]
    b = np.nonzero(times >= info["entry_time_s"])[0][0]
    angle = np.unwrap(np.arctan2(up[a : b + 1, 0], up[a : b + 1, 1]))
    assert (angle[-1] - angle[0]) / (2 * np.pi) == pytest.approx(spec.dive.somersaults, abs=0.05)
    # the lateral axis does twist: it is not parallel to the world z axis mid-flight
    lat = torso_frame(xyz)[..., 1] @ cam.R
    assert np.abs(lat[a : b + 1, 2]).min() < 0.5


def test_variable_frame_rate_round_trip(vfr_clip):
    _, paths = vfr_clip
    _, info, _, _, times = load(paths)
    assert info["variable_fps"] is True
    dt = np.diff(times)
    assert dt.max() - dt.min() > 2e-3
    stored = VideoReader(paths[0]).timestamps
    assert np.abs(stored - times).max() < 1e-3


def test_determinism_and_background(pike_clip):
    spec, paths = pike_clip
    a = list(render_frames(spec))
    b = list(render_frames(spec))
    assert [t for t, _ in a] == [t for t, _ in b]
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True))
    _, info, xyz, uv, times = load(paths)
    assert np.allclose([t for t, _ in a], times, atol=1e-6)
    # far from the diver (and above the water), a frame is the background times the gain, plus noise
    bg = np.asarray(Image.open(paths[3])).astype(float)
    k = len(a) // 2
    frame = a[k][1].astype(float)
    vv, uu = np.mgrid[0 : spec.height, 0 : spec.width]
    far = np.min(np.hypot(uu[..., None] - uv[k, :, 0], vv[..., None] - uv[k, :, 1]), axis=-1) > 20
    far &= vv < spec.height // 4
    assert far.sum() > 100
    resid = frame[far] - info["lighting_gain"][k] * bg[far]
    assert abs(resid.mean()) < 1.0
    assert resid.std() < 2 * spec.noise_sigma + 1
    gains = np.array(info["lighting_gain"])
    assert 0.94 < gains.min() <= gains.max() < 1.06


@pytest.mark.parametrize("name", ALL)
def test_diver_visible(name, request):
    spec, paths = request.getfixturevalue(name)
    _, info, xyz, uv, times = load(paths)
    bg = np.asarray(Image.open(paths[3])).astype(float)
    cam = Camera.from_dict(info["camera"])
    frames = list(render_frames(spec))
    fl = np.nonzero(info["in_flight"])[0]
    for k in fl[:: max(1, len(fl) // 5)]:
        u, v = np.round(cam.project(pelvis(xyz[k]))).astype(int)
        patch = np.s_[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2]
        diff = np.abs(frames[k][1][patch].astype(float) - bg[patch]).max()
        assert diff > 25, (k, diff)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(DivekitError):
        dataset_specs(0, 1)
    with pytest.raises(DivekitError):
        random_clip_spec(rng, width=65, height=128)
    with pytest.raises(DivekitError):
        random_clip_spec(rng, width=16, height=32)
    with pytest.raises(DivekitError):
        random_clip_spec(rng, diver=len(DIVERS))


def test_dataset_specs_balanced_and_deterministic():
    specs = dataset_specs(16, 7)
    assert specs == dataset_specs(16, 7)
    assert specs != dataset_specs(16, 8)
    names = [n for n, _ in specs]
    assert names[0] == "clip000_d0" and names[2] == "clip002_d2" and len(set(names)) == 16
    s = [spec for _, spec in specs]
    assert {x.dive.height_m for x in s} == set(HEIGHTS)
    assert {x.dive.position for x in s} == set(POSITIONS)
    assert {x.dive.direction for x in s} == {"forward", "backward"}
    assert {x.camera_side for x in s} == {-1, 1}
    assert sum(x.variable_fps for x in s) == 4
    assert len({x.diver for x in s}) == len(DIVERS) >= 6
    assert len({x.seed for x in s}) == 16
    assert all(0.5 <= x.dive.somersaults <= 3.5 and 0 <= x.dive.twists <= 2 for x in s)
    assert dataset_specs(3, 1, divers=[4])[1][0] == "clip001_d4"


def test_dataset_specs_at_a_fixed_high_rate_keep_the_seeds_dives():
    usual, fast = dataset_specs(8, 7), dataset_specs(8, 7, fps=240.0)
    assert [n for n, _ in fast] == [n for n, _ in usual]
    for (_, a), (_, b) in zip(usual, fast, strict=True):
        assert b.fps == 240.0 and not b.variable_fps
        assert dataclasses.replace(b, fps=a.fps, variable_fps=a.variable_fps) == a
    with pytest.raises(DivekitError, match="fps"):
        dataset_specs(2, 1, fps=5.0)


def test_dive_names():
    assert DiveSpec(10, "forward", 2.5, 0, "pike").name == "forward 2½ somersaults pike"
    assert DiveSpec(3, "backward", 1.5, 1.0, "free").name == "back 1½ somersaults 1 twist free"
    assert DiveSpec(3, "backward", 0.5, 0.0, "straight").name == "back ½ somersault straight"


def test_contact_sheet(pike_clip, tmp_path):
    _, paths = pike_clip
    out = tmp_path / "sheet.png"
    contact_sheet([paths[0]], out, moments=3)
    assert out.exists() and out.stat().st_size > 1000
