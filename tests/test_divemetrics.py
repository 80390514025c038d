import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from divekit.calibration.camera import rotation_about
from divekit.calibration.freefall import fit_free_fall
from divekit.divemetrics import (
    SUMMARY_KEYS,
    axis_rotation,
    axis_turns,
    dive_summary,
    find_flight,
    fit_on_flight,
    flexion_angles,
    flight_margin,
    position,
    rotation_angle,
    rotation_direction,
    somersaults,
    twists,
)
from divekit.skeleton import JOINTS, J, neck, pelvis

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
G = 9.81

# --- synthetic bodies --------------------------------------------------------------------------------


def body(hip: float = 0.0, knee: float = 0.0, elbow: float = 0.0) -> np.ndarray:
    """(13, 3) joints in the body frame (x forward, y left, z up), pelvis at the origin.

    Thigh at ``hip`` from hanging towards forward, shank at ``hip - knee``, forearm at ``elbow``
    from the hanging upper arm: the flexion angles are exactly hip, knee and elbow.
    """

    def limb(angle: float) -> np.ndarray:
        return np.array([math.sin(angle), 0.0, -math.cos(angle)])

    p = np.zeros((13, 3))
    p[J["head"]] = [0.0, 0.0, 0.75]
    for side, y in (("left", 1.0), ("right", -1.0)):
        hip_j, shoulder = np.array([0.0, 0.1 * y, 0.0]), np.array([0.0, 0.2 * y, 0.5])
        knee_j = hip_j + 0.45 * limb(hip)
        elbow_j = shoulder + 0.3 * limb(0.0)
        p[J[f"{side}_hip"]], p[J[f"{side}_knee"]] = hip_j, knee_j
        p[J[f"{side}_ankle"]] = knee_j + 0.45 * limb(hip - knee)
        p[J[f"{side}_shoulder"]], p[J[f"{side}_elbow"]] = shoulder, elbow_j
        p[J[f"{side}_wrist"]] = elbow_j + 0.25 * limb(elbow)
    return p


def rotate(points: np.ndarray, R: np.ndarray) -> np.ndarray:
    return points @ np.swapaxes(R, -1, -2)


# an arbitrary fixed camera: the numbers must not depend on where the body is seen from
CAMERA_R = rotation_about(np.array([0.3, -1.0, 0.4]), 2.0)
CAMERA_T = np.array([0.5, -1.0, 12.0])


def flight_poses(som_turns: float, twist_turns: float = 0.0, n: int = 60, pose: np.ndarray | None = None) -> np.ndarray:
    """(n, 13, 3) camera-frame poses: a somersault about the space-fixed lateral axis (the body's
    left at take-off; positive = forward) and a twist about the body's long axis in mid-flight."""
    s = np.linspace(0.0, 1.0, n)
    theta = 2 * np.pi * som_turns * s
    psi = 2 * np.pi * twist_turns * np.clip((s - 0.2) / 0.6, 0.0, 1.0)
    R = rotation_about(np.array([0.0, 1.0, 0.0]), theta) @ rotation_about(np.array([0.0, 0.0, 1.0]), psi)
    world = rotate(np.broadcast_to(body() if pose is None else pose, (n, 13, 3)), R)
    return world @ CAMERA_R.T + CAMERA_T


ALL = np.ones(60, dtype=bool)


def test_two_and_a_half_forward_somersaults():
    poses = flight_poses(2.5)
    assert somersaults(poses, ALL) == pytest.approx(2.5, abs=1e-6)
    assert twists(poses, ALL) == pytest.approx(0.0, abs=1e-9)


def test_backward_somersaults_are_negative_and_a_mirror_flips_the_sign():
    poses = flight_poses(-1.5)
    assert somersaults(poses, ALL) == pytest.approx(-1.5, abs=1e-6)
    mirrored = poses * np.array([-1.0, 1.0, 1.0])  # a left-handed frame
    assert somersaults(mirrored, ALL) == pytest.approx(1.5, abs=1e-6)


def test_twist_during_somersault():
    poses = flight_poses(1.5, 1.0)
    assert somersaults(poses, ALL) == pytest.approx(1.5, abs=1e-6)
    assert twists(poses, ALL) == pytest.approx(1.0, abs=0.01)
    assert twists(flight_poses(-1.0, -0.5), ALL) == pytest.approx(-0.5, abs=0.01)


def test_twists_count_only_steps_between_open_frames():
    # a tucked body (hips and knees at 2 rad, over the 70° bend) turning a full twist counts none
    tucked = flight_poses(1.0, 1.0, pose=body(hip=2.0, knee=2.0))
    assert twists(tucked, ALL) == pytest.approx(0.0, abs=1e-9)
    # tucked for frames 0-29, straight for 30-59: only the steps 30 -> 59 count. The twist runs
    # over s = k / 59 in [0.2, 0.8], so by frame 30 it has turned (30/59 - 0.2) / 0.6 = 0.51412 and
    # the open frames count the remaining 0.48588 turn
    mixed = flight_poses(1.0, 1.0)
    mixed[:30] = tucked[:30]
    assert twists(mixed, ALL) == pytest.approx(1 - (30 / 59 - 0.2) / 0.6, abs=0.01)


def test_rotation_counts_use_only_posed_flight_frames():
    poses = flight_poses(2.5)
    half = np.arange(60) < 30  # frames 0..29 of 60 cover 29/59 of the turns
    assert somersaults(poses, half) == pytest.approx(2.5 * 29 / 59, abs=1e-6)
    poses[10] = np.nan  # a missing pose is skipped (15° per frame -> 30° across the gap)
    assert somersaults(poses, ALL) == pytest.approx(2.5, abs=1e-6)
    assert somersaults(poses, np.zeros(60, bool)) is None and twists(poses[:1], ALL[:1]) is None
    with pytest.raises(ValueError):
        somersaults(poses[:, :12], ALL)


def test_rotation_angle_per_frame_by_hand():
    half = np.arange(60) < 30
    angle = rotation_angle(flight_poses(2.5), half)
    assert angle.shape == (60,)
    # 2.5 turns over 59 frame steps: 900°/59 per frame, from 0 on the first flight frame
    np.testing.assert_allclose(angle[:30], 900.0 * np.arange(30) / 59, atol=1e-6)
    assert np.isnan(angle[30:]).all()
    back = rotation_angle(flight_poses(-1.0), ALL)
    assert back[0] == 0.0 and back[-1] == pytest.approx(-360.0, abs=1e-6)


def test_rotation_angle_skips_missing_poses_and_matches_somersaults():
    poses = flight_poses(1.5, 1.0)
    poses[10] = np.nan
    angle = rotation_angle(poses, ALL)
    assert np.isnan(angle[10]) and np.isfinite(np.delete(angle, 10)).all()
    assert angle[11] == pytest.approx(540.0 * 11 / 59, abs=1e-6)
    for p, mask in ((poses, ALL), (flight_poses(-2.0), np.arange(60) >= 7), (flight_poses(0.0), ALL)):
        a = rotation_angle(p, mask)
        finite = a[np.isfinite(a)]
        assert (finite[-1] - finite[0]) / 360 == pytest.approx(somersaults(p, mask), abs=1e-12)
    assert np.isnan(rotation_angle(poses, np.arange(60) == 3)).all()  # one frame: undefined
    np.testing.assert_array_equal(rotation_angle(flight_poses(0.0), ALL), 0.0)
    with pytest.raises(ValueError):
        rotation_angle(poses, ALL[:5])


def test_flexion_angles_by_hand():
    a = flexion_angles(rotate(body(hip=1.0, knee=0.5, elbow=2.0), CAMERA_R)[None])
    assert a["hip"][0] == pytest.approx(1.0) and a["knee"][0] == pytest.approx(0.5)
    assert a["elbow"][0] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("pose", "expected"),
    [
        # hip, knee, elbow flexion of synth_body.POSES
        (body(2.30, 2.35, 1.30), "tuck"),
        (body(2.55, 0.00, 0.30), "pike"),
        (body(0.00, 0.00, 0.05), "straight"),
        (body(0.05, 0.05, 2.30), "free"),
    ],
)
def test_positions(pose, expected):
    assert position(flight_poses(1.0, pose=pose), ALL) == expected


def test_position_is_the_held_one():
    # straight at take-off and entry (15 frames each), tucked for the 30 in between
    s = np.arange(60)
    poses = np.where(((s >= 15) & (s < 45))[:, None, None], body(2.3, 2.35, 1.3), body())
    assert position(poses, ALL) == "tuck"
    assert position(poses, s < 15) == "straight"
    assert position(poses, np.zeros(60, bool)) is None


# --- tracks -----------------------------------------------------------------------------------------

# 30 fps; stands at y = 300 px until 0.5 s, flies 1.5 s, stops at the entry point.
# 0.02 m/px, so g is 490.5 px/s²; take-off at 3 m/s up (-150 px/s) and 1 m/s along (+50 px/s).
MPP, ACC, TK, TE = 0.02, G / 0.02, 0.5, 2.0


def track(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.clip(t, TK, TE) - TK
    return 100 + 50 * s, 300 - 150 * s + 0.5 * ACC * s**2


def test_perfect_parabola_by_hand():
    t = np.arange(91) / 30
    cx, cy = track(t)
    out = dive_summary(t, cx, cy, flight_poses(2.5, n=91), box_h=np.full(91, 100.0))
    assert set(out) == set(SUMMARY_KEYS)
    assert out["flight_found"] and out["reason"] is None
    assert out["metres_per_pixel"] == pytest.approx(MPP, rel=1e-9)
    assert out["metres_per_pixel_source"] == "fall"
    # contacts come from the box's lower edge, interpolated linearly between frames: within 1 ms here
    assert out["takeoff_time_s"] == pytest.approx(TK, abs=1e-3) and out["entry_time_s"] == pytest.approx(TE, abs=1e-3)
    assert out["flight_time_s"] == pytest.approx(1.5, abs=2e-3)
    # apex: vy² / 2g = 9 / 19.62; entry: vertical 3 m/s - g 1.5 s = -11.715 m/s, along 1 m/s; travel 1.5 m
    # (to the contacts' 1 ms: 3 mm of apex at 3 m/s)
    assert out["apex_height_m"] == pytest.approx(9 / 19.62, rel=2e-3)
    assert out["entry_speed_mps"] == pytest.approx(math.hypot(G * 1.5 - 3, 1.0), rel=2e-3)
    assert out["horizontal_travel_m"] == pytest.approx(1.5, rel=2e-3)
    assert out["fit_rmse_px"] < 1e-6
    # a perfect fit leaves the timing: one frame (1/30 s) at take-off and at entry
    assert out["metres_per_pixel_uncertainty"] == pytest.approx(0.0, abs=1e-9)
    assert out["takeoff_time_s_uncertainty"] == pytest.approx(1 / 30)
    assert out["flight_time_s_uncertainty"] == pytest.approx(math.sqrt(2) / 30)
    # d(apex)/d(take-off time) = vy = 3 m/s; d(speed)/d(entry time) = g vy / speed; travel: vx
    assert out["apex_height_m_uncertainty"] == pytest.approx(3 / 30, rel=2e-3)
    speed = math.hypot(G * 1.5 - 3, 1.0)
    assert out["entry_speed_mps_uncertainty"] == pytest.approx(G * (G * 1.5 - 3) / speed / 30, rel=2e-3)
    assert out["horizontal_travel_m_uncertainty"] == pytest.approx(math.sqrt(2) / 30, rel=2e-3)
    assert out["somersaults"] == pytest.approx(2.5 * 45 / 90, abs=1e-6)  # poses turn over the whole clip
    assert out["position"] == "straight" and out["twists"] == pytest.approx(0.0, abs=1e-9)
    json.dumps(out)  # JSON-ready


def test_the_fall_is_fitted_to_the_silhouette_centre_when_given():
    # The box centre sways about the body as it folds (two 8-px waves over the flight, still at
    # take-off and entry); the silhouette's centroid follows the parabola exactly, and is missing on
    # two flight frames.
    t = np.arange(91) / 30
    cx, cy = track(t)
    s = np.clip(t, TK, TE) - TK
    box_cy = cy + 8 * np.sin(2 * np.pi * s / 1.5) ** 2
    centre = np.stack([cx, cy], axis=1)
    centre[[30, 31]] = np.nan
    h = np.full(91, 100.0)
    from_box = dive_summary(t, cx, box_cy, box_h=h)
    assert abs(from_box["metres_per_pixel"] / MPP - 1) > 0.01  # the sway bends the box's parabola
    out = dive_summary(t, cx, box_cy, box_h=h, centre=centre)
    assert out["metres_per_pixel"] == pytest.approx(MPP, rel=1e-9)
    assert out["fit_rmse_px"] < 1e-6
    assert out["horizontal_travel_m"] == pytest.approx(1.5, rel=2e-3)  # the line through the centre's x
    with pytest.raises(ValueError, match="centre"):
        dive_summary(t, cx, box_cy, centre=centre[:, :1])


def test_noisy_variable_rate_track():
    rng = np.random.default_rng(3)
    t = np.concatenate([[0.0], np.cumsum(rng.uniform(1 / 60, 1 / 25, 80))])
    cx, cy = track(t)
    cy = cy + rng.normal(0, 0.7, t.shape)
    cx = cx + rng.normal(0, 0.7, t.shape)
    out = dive_summary(t, cx, cy)
    assert out["metres_per_pixel"] == pytest.approx(MPP, rel=0.02)
    assert 0 < out["metres_per_pixel_uncertainty"] < 0.02 * MPP
    assert abs(out["metres_per_pixel"] - MPP) < 4 * out["metres_per_pixel_uncertainty"]
    assert out["takeoff_time_s"] == pytest.approx(TK, abs=0.05) and out["entry_time_s"] == pytest.approx(TE, abs=0.05)
    assert out["horizontal_travel_m"] == pytest.approx(1.5, rel=0.05)
    assert out["somersaults"] is None and out["position"] is None  # no poses


def test_known_scale_overrides_the_fall():
    t = np.arange(91) / 30
    cx, cy = track(t)
    out = dive_summary(t, cx, cy, metres_per_pixel=0.025, metres_per_pixel_uncertainty=0.001)
    assert out["metres_per_pixel"] == 0.025 and out["metres_per_pixel_source"] == "calibration"
    assert out["metres_per_pixel_uncertainty"] == 0.001
    rise_px = 150**2 / (2 * ACC)
    assert out["apex_height_m"] == pytest.approx(rise_px * 0.025, rel=1e-6)
    assert out["horizontal_travel_m"] == pytest.approx(75 * 0.025, rel=1e-6)
    # the scale's 4 % adds 4 % of the travel: sqrt((75 * 0.001)² + (0.025 * 50 * sqrt(2) / 30)²)
    assert out["horizontal_travel_m_uncertainty"] == pytest.approx(
        math.hypot(0.075, 1.25 * math.sqrt(2) / 30), rel=1e-4
    )
    # a scale the fall contradicts (10 x larger): no flight rather than made-up numbers
    wrong = dive_summary(t, cx, cy, metres_per_pixel=0.2)
    assert not wrong["flight_found"] and "no flight" in wrong["reason"]


def assert_no_flight(out: dict) -> None:
    assert out["flight_found"] is False and isinstance(out["reason"], str)
    assert all(out[k] is None for k in SUMMARY_KEYS if k not in ("flight_found", "reason"))


def test_fall_is_fitted_again_on_the_dated_flight():
    # 10 frames/s; the centre falls at 980 px/s² from frame 8 to frame 22, and lies 2 px off that
    # parabola on either side (the body still extending on the board, entering the water): a run
    # with a 3 px tolerance takes those frames in. Take-off at 1.0 s (frame 10) and entry at 2.0 s
    # (frame 20) with a margin of 2 frames keep frames 8-22, where the parabola is exact.
    t = np.arange(31) / 10
    y = 100 - 300 * (t - 1.0) + 490 * (t - 1.0) ** 2
    y[:8] += 2.0
    y[23:] += 2.0
    run = fit_free_fall(t, y, np.ones(31, bool), loss="linear")
    assert abs(run.acc - 980) > 1
    fit = fit_on_flight(t, y, run, 1.0, 2.0, tol_px=3.0, acc_range=(1.0, 1e4), margin=2)
    assert fit.acc == pytest.approx(980, abs=1e-6)
    np.testing.assert_array_equal(np.flatnonzero(fit.inliers), np.arange(8, 23))
    assert (fit.t_start, fit.t_end) == pytest.approx((0.8, 2.2))
    # too short a flight (fewer than 6 frames) or an implausible refit keeps the run
    assert fit_on_flight(t, y, run, 1.0, 1.15, tol_px=3.0, acc_range=(1.0, 1e4), margin=1) is run
    assert fit_on_flight(t, y, run, 1.0, 2.0, tol_px=3.0, acc_range=(1.0, 900.0), margin=2) is run


@pytest.mark.parametrize(("fps", "frames"), [(25, 2), (30, 2), (50, 2), (59.94, 2), (60, 2), (120, 4), (240, 8)])
def test_flight_margin_is_two_frames_at_the_usual_rates_and_a_thirtieth_of_a_second_above(fps, frames):
    assert flight_margin(np.arange(100) / fps) == frames


def test_flight_within_the_run_is_refitted_by_least_squares_too():
    # The run (soft-L1) already lies within the dated flight, so nothing is dropped; the flight is
    # still fitted by ordinary least squares, like every other, and not left with the robust loss.
    t = np.arange(10) / 10
    y = 100 - 300 * t + 490 * t**2
    y[9] += 2.5  # the last frame off the parabola, inside the run's 3 px tolerance
    run = fit_free_fall(t, y, np.ones(10, bool), tol_px=3.0)
    ols = fit_free_fall(t, y, np.ones(10, bool), loss="linear")
    assert abs(run.acc - ols.acc) > 0.3  # 990.85 against 991.36 px/s²
    fit = fit_on_flight(t, y, run, 0.0, 0.9, tol_px=3.0, acc_range=(1.0, 1e4), margin=2)
    assert fit.acc == pytest.approx(ols.acc, abs=1e-6)
    np.testing.assert_array_equal(fit.inliers, run.inliers)


def test_flat_track_has_no_flight():
    rng = np.random.default_rng(0)
    t = np.arange(90) / 30
    cy = 300 + rng.normal(0, 1.0, 90)
    cx = 100 + rng.normal(0, 1.0, 90)
    assert_no_flight(dive_summary(t, cx, cy, flight_poses(1.0, n=90), box_h=np.full(90, 150.0)))
    assert_no_flight(dive_summary(t, cx, cy))
    assert find_flight(t, cy) is None


def test_empty_pool_has_no_flight():
    t = np.arange(90) / 30
    nan = np.full(90, np.nan)
    out = dive_summary(t, nan, nan, np.full((90, 13, 3), np.nan))
    assert_no_flight(out)
    assert "0 frames" in out["reason"]


def test_clip_cut_before_take_off_has_no_flight():
    # standing, then a crouch (15 px down and back up in 0.4 s), and the clip ends
    t = np.arange(36) / 30
    s = np.clip((t - 0.6) / 0.4, 0, 1)
    cy = 300 + 15 * np.sin(np.pi * s) ** 2
    assert_no_flight(dive_summary(t, np.full(36, 100.0), cy, box_h=np.full(36, 150.0)))


def test_clip_starting_in_flight_reports_what_it_saw():
    t = np.arange(30, 91) / 30  # starts 0.5 s after take-off
    cx, cy = track(t)
    out = dive_summary(t, cx, cy, flight_poses(1.0, n=len(t)))
    assert out["flight_found"] and "starts after take-off" in out["reason"]
    assert out["takeoff_time_s"] is None and out["flight_time_s"] is None and out["apex_height_m"] is None
    assert out["horizontal_travel_m"] is None and out["somersaults"] is None
    assert out["entry_time_s"] == pytest.approx(TE) and out["entry_speed_mps"] == pytest.approx(
        math.hypot(G * 1.5 - 3, 1.0), rel=1e-6
    )
    assert out["metres_per_pixel"] == pytest.approx(MPP) and out["position"] == "straight"


def test_clip_ending_before_entry():
    t = np.arange(0, 50) / 30  # ends 1.13 s into the flight
    cx, cy = track(t)
    out = dive_summary(t, cx, cy)
    assert out["flight_found"] and "ends before entry" in out["reason"]
    assert out["entry_time_s"] is None and out["entry_speed_mps"] is None
    assert out["apex_height_m"] == pytest.approx(9 / 19.62, rel=1e-6)


def test_no_box_x_leaves_out_what_needs_it():
    t = np.arange(91) / 30
    _, cy = track(t)
    out = dive_summary(t, np.full(91, np.nan), cy)
    assert out["flight_found"] and "box x" in out["reason"]
    assert out["entry_speed_mps"] is None and out["horizontal_travel_m"] is None
    assert out["apex_height_m"] == pytest.approx(9 / 19.62, rel=1e-6)
    assert out["apex_height_m_uncertainty"] == pytest.approx(0.1, rel=1e-4)


def test_shape_errors():
    t = np.arange(10.0)
    with pytest.raises(ValueError):
        dive_summary(t, t[:5], t)
    with pytest.raises(ValueError):
        find_flight(t, t[:5])


# --- a real sample clip against its truth --------------------------------------------------------


def load_sample(stem: str) -> tuple[dict, np.ndarray]:
    meta = json.loads((SAMPLES / f"{stem}.json").read_text())
    truth = pd.read_csv(SAMPLES / f"{stem}.truth.csv")
    truth["j"] = truth["joint"].map({name: i for i, name in enumerate(JOINTS)})
    truth = truth.sort_values(["frame", "j"])
    poses = truth[["x", "y", "z"]].to_numpy().reshape(meta["frame_count"], len(JOINTS), 3)
    return meta, poses


@pytest.mark.parametrize("stem", ["clip000_d0", "clip007_d2", "clip011_d1", "clip019_d4", "clip021_d1"])
def test_sample_clip_against_its_truth(stem):
    if not (SAMPLES / f"{stem}.json").exists():
        pytest.skip("sample data not present")
    meta, poses = load_sample(stem)
    spec = meta["dive"]
    sign = 1 if spec["direction"] == "forward" else -1
    in_flight = np.asarray(meta["in_flight"], dtype=bool)
    # rotation and position from the true joints over the true flight
    assert somersaults(poses, in_flight) == pytest.approx(sign * spec["somersaults"], abs=0.05)
    assert twists(poses, in_flight) == pytest.approx(spec["twists"], abs=0.05)
    assert position(poses, in_flight) == spec["position"]
    # and everything from the projected centre-of-mass track alone
    com = meta["com_track"]
    out = dive_summary(np.array(com["time_s"]), np.array(com["u"]), np.array(com["v"]), poses)
    assert out["flight_found"] and out["reason"] is None
    assert out["metres_per_pixel"] == pytest.approx(meta["metres_per_pixel"], rel=0.03)
    assert out["takeoff_time_s"] == pytest.approx(meta["takeoff_time_s"], abs=0.05)
    assert out["entry_time_s"] == pytest.approx(meta["entry_time_s"], abs=0.05)
    assert round(2 * out["somersaults"]) / 2 == sign * spec["somersaults"]
    assert round(2 * out["twists"]) / 2 == spec["twists"]
    assert out["position"] == spec["position"]
    # apex and entry speed within 3 sigma (a frame of timing dominates)
    assert abs(out["apex_height_m"] - meta["apex_height_m"]) < 3 * out["apex_height_m_uncertainty"]
    assert abs(out["entry_speed_mps"] - meta["entry_speed_m_s"]) < 3 * out["entry_speed_mps_uncertainty"]


def test_box_centre_track_needs_a_box_sized_tolerance():
    # The box centre of a piked 2½ somersault wobbles ~6 px about the parabola of the centre of
    # mass: a fixed 3 px tolerance finds no flight, an eighth of the box height (the default) does.
    if not (SAMPLES / "clip011_d1.json").exists():
        pytest.skip("sample data not present")
    from divekit.truth import truth_boxes

    meta = json.loads((SAMPLES / "clip011_d1.json").read_text())
    boxes, _ = truth_boxes(SAMPLES / "clip011_d1.mp4")
    t = np.array(meta["com_track"]["time_s"])
    args = (t, boxes[:, 0], boxes[:, 1])
    assert not dive_summary(*args, box_h=boxes[:, 3], tol_px=3.0)["flight_found"]
    out = dive_summary(*args, box_h=boxes[:, 3])
    assert out["flight_found"] and out["reason"] is None
    assert out["metres_per_pixel"] == pytest.approx(meta["metres_per_pixel"], rel=0.1)
    # take-off is coarse: the box centre moves with the arms and legs around it
    assert out["takeoff_time_s"] == pytest.approx(meta["takeoff_time_s"], abs=0.25)


def test_axis_turns_counts_half_turns_of_the_silhouette_axis():
    # the long axis turns 2.5 somersaults = 900° over 31 frames (30° a frame), reported mod 180°
    truth = np.radians(np.arange(31) * 30.0)
    wrapped = (truth + np.pi / 2) % np.pi - np.pi / 2
    flight = np.ones(31, dtype=bool)
    times = np.arange(31) / 25.0
    assert axis_turns(wrapped, flight, times) == pytest.approx(2.5)
    assert axis_turns(-wrapped, flight, times) == pytest.approx(2.5)  # unsigned: the pose gives the direction
    assert np.nanmax(axis_rotation(wrapped, flight, times)) == pytest.approx(900.0)
    flight[:15] = False  # 15 frames of 30°: 450° = 1.25 turns
    assert axis_turns(wrapped, flight, times) == pytest.approx(15 * 30 / 360)
    assert axis_turns(np.full(31, np.nan), np.ones(31, bool), times) is None
    # a variable frame rate: the turn is counted per second, the same body turn gives the same count
    uneven = np.cumsum(np.r_[0.0, np.where(np.arange(30) % 2, 0.03, 0.05)])
    assert axis_turns(wrapped, np.ones(31, bool), uneven) == pytest.approx(2.5)


def test_axis_turns_are_not_fooled_by_a_pike_that_opens_forwards():
    # One forward somersault, 360° over 41 frames (9° a frame) of a body straight at take-off and at
    # entry. Folded into a pike, its long axis lies 75° ahead of the trunk; the fold takes one frame
    # (9 + 75 = 84° < 90°: unwrapped forwards). The opening takes 3 frames in which the axis goes on
    # forwards by 9 + 35° a frame, 75 + 3 * 35 = 180°: straight again, half a turn ahead modulo π.
    # A plain unwrap counts 360 + 180 = 540° = 1.5 turns; the truth is 1 turn.
    offset = np.zeros(41)
    offset[5:30] = 75.0
    offset[30:33] = 75.0 + 35.0 * np.arange(1, 4)
    offset[33:] = 180.0
    body = np.arange(41) * 9.0 + offset
    axis = np.radians((body + 90.0) % 180.0 - 90.0)
    flight, times = np.ones(41, dtype=bool), np.arange(41) / 30.0
    unwrapped = np.degrees(np.unwrap(2 * axis) / 2)
    assert unwrapped[-1] - unwrapped[0] == pytest.approx(540.0)  # what a plain unwrap gives
    # the median rate over 9 frames (0.3 s at 30 fps) is 9° a frame except next to the fold and the
    # opening, whose frames it skips: the coarse turn is within 90° of 360°, and the ends are exact
    assert axis_turns(axis, flight, times) == pytest.approx(1.0)
    rotation = axis_rotation(axis, flight, times)
    assert rotation[0] == 0.0 and rotation[-1] == pytest.approx(360.0)


def side_view(som_turns: float, facing: int, n_stand: int = 10, n_fly: int = 40) -> tuple[np.ndarray, ...]:
    """A diver standing, then somersaulting ``som_turns`` (+ forward) about their left axis, seen
    square from the side by a camera (x right, y down) while facing +x or -x on screen: the
    camera-frame poses, the image angle of the trunk (mod π, as divekit.motion.silhouettes gives
    it) and the flight mask."""
    # body (x forward, y left, z up) -> camera: the chest along +-x, up along -y, and a proper rotation
    to_cam = (
        np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]]) if facing > 0 else np.array([[-1, 0, 0], [0, 0, -1], [0, -1, 0]])
    )
    theta = np.concatenate([np.zeros(n_stand), 2 * np.pi * som_turns * np.linspace(0, 1, n_fly)])
    R = rotation_about(np.array([0.0, 1.0, 0.0]), theta)
    poses = rotate(np.broadcast_to(body(), (len(theta), 13, 3)), R) @ to_cam.T
    trunk = neck(poses) - pelvis(poses)
    angle = np.arctan2(trunk[:, 1], trunk[:, 0])
    angle = (angle + np.pi / 2) % np.pi - np.pi / 2  # a line's angle, mod π
    return poses, angle, np.arange(len(theta)) >= n_stand


@pytest.mark.parametrize("turns", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("facing", [1, -1])
def test_rotation_direction_from_the_turn_on_screen_and_the_facing(turns, facing):
    # A forward somersault facing +x turns the head from up towards +x: on screen (y down) the trunk
    # goes from -90° to 0°, a clockwise turn whose image angle grows. Facing -x it turns the other
    # way, and a backward somersault reverses both.
    for sign, expected in ((1, "forward"), (-1, "backward")):
        poses, angle, flying = side_view(sign * turns, facing)
        times = np.arange(len(angle)) / 25.0
        assert rotation_direction(angle, poses, flying, times) == expected
        assert axis_turns(angle, flying, times) == pytest.approx(turns, abs=1e-6)
    # the facing comes from the pose; with no pose at all there is no direction
    poses, angle, flying = side_view(turns, facing)
    assert rotation_direction(angle, np.full_like(poses, np.nan), flying, times) is None
    # without a stance before take-off, the first flight frames give the facing
    assert rotation_direction(angle[10:], poses[10:], flying[10:], times[10:]) == "forward"


def dive_at(t: np.ndarray, takeoff: float, flight_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The track of :func:`track` with take-off at ``takeoff`` and entry ``flight_s`` later."""
    s = np.clip(t, takeoff, takeoff + flight_s) - takeoff
    return 100 + 50 * s, 300 - 150 * s + 0.5 * ACC * s**2


def test_a_video_of_two_dives_reports_the_longer_and_names_the_other():
    # a training session: a 1.5 s dive, the diver out of sight (no box), a 1.2 s dive from 4.5 s
    t = np.arange(240) / 30
    first, second = dive_at(t, 0.5, 1.5), dive_at(t, 4.5, 1.2)
    later = t >= 3.9
    cx, cy = np.where(later, second[0], first[0]), np.where(later, second[1], first[1])
    cy[(t > 2.4) & (t < 3.9)] = np.nan
    out = dive_summary(t, cx, cy, None, box_h=np.full(len(t), 100.0))
    assert out["takeoff_time_s"] == pytest.approx(0.5, abs=1e-3) and out["flight_time_s"] == pytest.approx(
        1.5, abs=2e-3
    )
    # the other's free-fall run: it takes in a few frames on either side, as a run does before the
    # contacts date it (only the reported dive's are dated)
    [(start, end)] = out["other_flights"]
    assert start == pytest.approx(4.5, abs=0.1) and end == pytest.approx(5.7, abs=0.1)
    # one dive alone: none
    assert dive_summary(t, *dive_at(t, 0.5, 1.5), None, box_h=np.full(len(t), 100.0))["other_flights"] == []


def test_a_hurdle_before_the_dive_is_not_another_dive():
    # a hop that lands where it left, a second before take-off (0.9 s: long enough to bend the track
    # by more than three tolerances, so only where it lands tells it from a dive)
    t = np.arange(150) / 30
    cx, cy = dive_at(t, 2.0, 1.5)
    hop = (t >= 0.1) & (t <= 1.0)
    s = t[hop] - 0.1
    up = 0.5 * ACC * 0.9  # px/s: back on the board after 0.9 s
    cy[hop] = 300 - up * s + 0.5 * ACC * s**2
    out = dive_summary(t, cx, cy, None, box_h=np.full(len(t), 100.0))
    assert out["takeoff_time_s"] == pytest.approx(2.0, abs=1e-3)
    assert out["other_flights"] == []
    # the same hop ending 60 px lower (a quarter box height is 25 px), where it stays, counts as a dive
    cy[hop] += 60 * s / 0.9
    cy[(t > 1.0) & (t < 1.4)] = 360.0
    assert len(dive_summary(t, cx, cy, None, box_h=np.full(len(t), 100.0))["other_flights"]) == 1
