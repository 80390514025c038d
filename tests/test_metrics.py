"""Pose errors against values computed by hand (arithmetic in the comments)."""

import numpy as np
import pytest

from divekit.errors import DivekitError
from divekit.labels import VideoLabels
from divekit.metrics import compare_labels, mpjpe, n_mpjpe, p_mpjpe, pelvis_centred, pose_report, procrustes_align
from divekit.skeleton import JOINTS, J


def pose(seed: int = 0, frames: int = 3) -> np.ndarray:
    """(frames, 13, 3) non-planar random poses, about a body's size."""
    return np.random.default_rng(seed).normal(0.0, 0.4, size=(frames, 13, 3))


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    a = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k  # Rodrigues


def test_identical_poses_have_zero_error():
    gt = pose()
    for metric in (mpjpe, n_mpjpe, p_mpjpe):
        err = metric(gt, gt)
        assert err.shape == (3, 13)
        assert np.allclose(err, 0.0, atol=1e-9)


def test_single_joint_offset_3_4_5():
    gt = np.zeros((1, 2, 3))
    pred = gt.copy()
    pred[0, 1] = [3.0, 4.0, 0.0]
    # √(3² + 4²) = 5 m on joint 1, 0 on joint 0
    assert mpjpe(pred, gt).tolist() == [[0.0, 5.0]]


def test_double_scale_is_free_for_n_mpjpe_but_not_mpjpe():
    gt = pose(1)
    pred = 2 * gt
    # pred − gt = gt, so the error of each joint is |gt|
    assert np.allclose(mpjpe(pred, gt), np.linalg.norm(gt, axis=-1))
    # s = Σ(2g·g)/Σ(4g·g) = 1/2 undoes the scale exactly
    assert np.allclose(n_mpjpe(pred, gt), 0.0, atol=1e-12)


def test_n_mpjpe_hand_computed_scale():
    gt = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    pred = np.array([[[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    # s = Σ(pred·gt)/Σ(pred·pred) = 2/4 = 0.5 -> scaled pred (1,0,0),(0,0,0): errors 0 and 1
    assert n_mpjpe(pred, gt).tolist() == [[0.0, 1.0]]


def test_similarity_transform_is_free_for_p_mpjpe():
    gt = pose(2)
    rot = rotation([1.0, 2.0, 0.5], 0.9)
    pred = 1.7 * gt @ rot.T + np.array([0.3, -1.0, 4.0])
    assert mpjpe(pred, gt).mean() > 0.5
    assert np.allclose(p_mpjpe(pred, gt), 0.0, atol=1e-9)
    assert np.allclose(procrustes_align(pred, gt), gt, atol=1e-9)


def test_p_mpjpe_hand_computed_scale_only():
    # two points at ±1 on x; the prediction at ±2 on x plus a shift of 5 on y
    gt = np.array([[[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]])
    pred = np.array([[[-2.0, 5.0, 0.0], [2.0, 5.0, 0.0]]])
    # MPJPE: |(−1, 5, 0)| = √26 on both joints; Procrustes: translate by −5 on y, scale by 1/2 -> 0
    assert np.allclose(mpjpe(pred, gt), np.sqrt(26))
    assert np.allclose(p_mpjpe(pred, gt), 0.0, atol=1e-12)


def test_reflection_is_not_aligned_by_a_reflection():
    gt = pose(3, frames=2)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a left-right mirror image (det −1)
    # a reflection would align it exactly; a proper rotation cannot for a non-planar pose
    assert p_mpjpe(mirrored, gt).mean() > 0.05
    aligned = procrustes_align(mirrored, gt)
    # the best fit moves the centred cloud by s·R with det R = +1: recover R from the fit and check
    p = mirrored - mirrored.mean(1, keepdims=True)
    a = aligned - aligned.mean(1, keepdims=True)
    for f in range(2):
        sr, *_ = np.linalg.lstsq(p[f], a[f], rcond=None)  # a = p @ (sR)ᵀ
        assert np.linalg.det(sr) > 0


def test_pelvis_centred_puts_mid_hip_at_origin():
    joints = pose(4)
    centred = pelvis_centred(joints)
    mid = 0.5 * (centred[:, J["left_hip"]] + centred[:, J["right_hip"]])
    assert np.allclose(mid, 0.0)
    assert np.allclose(centred - joints, centred[:, :1] - joints[:, :1])  # a pure translation per frame


def test_pose_report_known_offset_in_millimetres():
    gt = pose(5, frames=4)
    pred = gt.copy()
    pred[:, J["head"]] += [0.03, 0.04, 0.0]  # 3-4-5: 50 mm on the head; the hips stay, so the pelvis too
    report = pose_report(pred, gt)
    assert report["frames"] == 4
    # overall MPJPE = 50 mm on 1 joint of 13 -> 50/13 = 3.846… -> 3.8
    assert report["mpjpe_mm"] == 3.8
    assert report["per_joint"]["head"]["mpjpe_mm"] == 50.0
    assert report["per_joint"]["left_knee"]["mpjpe_mm"] == 0.0
    assert set(report["per_joint"]) == set(JOINTS)
    assert set(report["per_joint"]["head"]) == {"mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm"}


def test_pose_report_ignores_a_global_translation_and_is_plain_floats():
    gt = pose(6)
    report = pose_report(gt + np.array([1.0, 2.0, 3.0]), gt)
    assert report["mpjpe_mm"] == report["n_mpjpe_mm"] == report["p_mpjpe_mm"] == 0.0
    assert all(type(v) is float for v in report["per_joint"]["head"].values())


def test_shape_asserts():
    with pytest.raises(AssertionError):
        mpjpe(np.zeros((2, 13, 3)), np.zeros((3, 13, 3)))
    with pytest.raises(AssertionError):
        p_mpjpe(np.zeros((13, 3)), np.zeros((13, 3)))
    with pytest.raises(AssertionError):
        pose_report(np.zeros((1, 13, 3)), np.zeros((1, 13, 3)), joints=JOINTS[:5])


def test_compare_labels_matches_frames_per_video():
    gt_a, gt_b = pose(7, frames=4), pose(8, frames=2)
    truth = {
        "a": VideoLabels("a", np.array([0, 1, 2, 3]), gt_a, None),
        "b": VideoLabels("b", np.array([5, 6]), gt_b, None),
    }
    moved = gt_a[[1, 3]].copy()
    moved[:, J["head"]] += [0.0, 0.3, 0.4]  # 3-4-5 scaled: 500 mm on the head of frames 1 and 3 of "a"
    pred = {
        "a": VideoLabels("a", np.array([1, 3, 9]), np.concatenate([moved, pose(9, frames=1)]), None),  # 9: no truth
        "b": VideoLabels("b", np.array([6]), gt_b[1:], None),
        "c": VideoLabels("c", np.array([0]), pose(10, frames=1), None),  # no truth at all
    }
    report = compare_labels(pred, truth)
    # 3 matched frames (a: 1, 3; b: 6); head error 500, 500, 0 -> 333.3; overall 1000/(3·13) = 25.64 -> 25.6
    assert report["frames"] == 3
    assert report["per_joint"]["head"]["mpjpe_mm"] == 333.3
    assert report["mpjpe_mm"] == 25.6
    # per video: a 500/13 = 38.46 -> 38.5, b 0
    assert report["videos"]["a"] == {**report["videos"]["a"], "frames": 2, "mpjpe_mm": 38.5}
    assert report["videos"]["b"]["mpjpe_mm"] == 0.0 and report["videos"]["b"]["frames"] == 1
    assert report["unmatched_videos"] == ["c"]


def test_compare_labels_errors():
    gt = pose(11, frames=2)
    truth = {"a": VideoLabels("a", np.array([0, 1]), gt, None)}
    with pytest.raises(DivekitError, match="no video is in both"):
        compare_labels({"z": VideoLabels("z", np.array([0]), gt[:1], None)}, truth)
    with pytest.raises(DivekitError, match="no labelled frame is in both"):
        compare_labels({"a": VideoLabels("a", np.array([7]), gt[:1], None)}, truth)
    with pytest.raises(DivekitError, match="the prediction has no 3D joints"):
        compare_labels({"a": VideoLabels("a", np.array([0]), None, np.zeros((1, 13, 2)))}, truth)
