import numpy as np
import pytest

from divekit import skeleton
from divekit.skeleton import BONES, JOINTS, J, centre_of_mass, pelvis, torso_frame


def _tpose() -> np.ndarray:
    """A standing body: x forward, y up, z to the right."""
    p = np.zeros((13, 3))
    p[J["head"]] = [0, 1.6, 0]
    for side, s in (("left", -1), ("right", 1)):
        p[J[f"{side}_shoulder"]] = [0, 1.4, 0.2 * s]
        p[J[f"{side}_elbow"]] = [0, 1.1, 0.2 * s]
        p[J[f"{side}_wrist"]] = [0, 0.85, 0.2 * s]
        p[J[f"{side}_hip"]] = [0, 0.9, 0.1 * s]
        p[J[f"{side}_knee"]] = [0, 0.5, 0.1 * s]
        p[J[f"{side}_ankle"]] = [0, 0.1, 0.1 * s]
    return p


def test_joint_order_and_bones():
    assert JOINTS[0] == "head" and JOINTS[-1] == "right_ankle" and len(JOINTS) == 13
    assert all(0 <= a < 13 and 0 <= b < 13 for a, b in BONES)


def test_mass_fractions_sum_to_one():
    assert skeleton.SEGMENT_MASS.sum() == pytest.approx(1.0, abs=1e-9)
    assert skeleton.COM_WEIGHTS.sum() == pytest.approx(1.0, abs=1e-12)


def test_centre_of_mass_hand_computed():
    p = _tpose()
    # y by hand: head-neck 0.0694 at 1.4 + 0.85*0.2; trunk 0.4346 at 1.4 - 0.45*0.5;
    # upper arms 2*0.0271 at 1.4 - 0.577*0.3; forearms 2*0.0223 at 1.1 - 0.62*0.25;
    # thighs 2*0.1416 at 0.9 - 0.41*0.4; shanks 2*0.0570 at 0.5 - 0.58*0.4
    y = 0.0694 * 1.57 + 0.4346 * 1.175 + 0.0542 * 1.2269 + 0.0446 * 0.945 + 0.2832 * 0.736 + 0.114 * 0.268
    com = centre_of_mass(p)
    assert com == pytest.approx([0.0, y, 0.0], abs=1e-6)
    # batches and translation
    batch = np.stack([p, p + [1.0, 2.0, 3.0]])
    assert centre_of_mass(batch)[1] == pytest.approx(com + [1.0, 2.0, 3.0])
    assert pelvis(p) == pytest.approx([0, 0.9, 0])


def test_torso_frame_upright_and_rotated():
    p = _tpose()
    f = torso_frame(p)
    # forward = left x up; left is -z here, so forward is +x
    assert f[:, 0] == pytest.approx([1, 0, 0])
    assert f[:, 1] == pytest.approx([0, 0, -1])
    assert f[:, 2] == pytest.approx([0, 1, 0])
    assert np.linalg.det(f) == pytest.approx(1.0)
    a = 0.7
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    fr = torso_frame(np.stack([p @ R.T, p]))
    assert fr[0] == pytest.approx(R @ f)
    with pytest.raises(ValueError):
        torso_frame(np.zeros((12, 3)))


def test_steady_size_by_hand():
    # one skeleton at full size, at half size and at a quarter, away from the origin; and a NaN frame
    full = np.zeros((13, 3))
    full[:, 1] = np.arange(13) * 0.1  # joints 0.1 m apart along y: bones of known length
    lengths = skeleton.bone_lengths(full).sum()
    shift = np.array([1.0, 2.0, 3.0])
    hips = pelvis(full)
    frames = np.stack([full, hips + (full - hips) * 0.5, hips + (full - hips) * 0.25, np.full((13, 3), np.nan)]) + shift
    # percentile 50 of the sums (L, L/2, L/4) is L/2: every frame gets bones summing to L/2
    steady = skeleton.steady_size(frames, quantile=50)
    np.testing.assert_allclose(skeleton.bone_lengths(steady[:3]).sum(axis=-1), [lengths / 2] * 3)
    np.testing.assert_allclose(pelvis(steady[:3]), pelvis(frames[:3]))  # scaled about the pelvis
    np.testing.assert_allclose(steady[1], frames[1])  # already that size: unchanged
    np.testing.assert_allclose(steady[2] - (hips + shift), (full - hips) * 0.5)
    assert np.isnan(steady[3]).all()
    # the default is the 90th percentile: over the sums (L/4, L/2, L), numpy's linear rule puts it
    # at position 0.9 * 2 = 1.8, so L/2 + 0.8 * L/2 = 0.9 L
    np.testing.assert_allclose(
        skeleton.bone_lengths(skeleton.steady_size(frames)[:3]).sum(axis=-1), [0.9 * lengths] * 3
    )
