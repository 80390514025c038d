"""The 13-joint body model shared by the renderer, the pose regressor and the analysis.

Joint arrays have shape (..., 13, 3) in any right-handed metric frame (the truth files use the
camera frame). Everything here is pure numpy and works on arbitrary leading batch dimensions.
"""

from __future__ import annotations

import numpy as np

JOINTS = (
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
J = {name: i for i, name in enumerate(JOINTS)}

# Pairs of joint indices to draw a stick figure (neck and pelvis are implied midpoints).
BONES = (
    (J["left_shoulder"], J["right_shoulder"]),
    (J["left_shoulder"], J["left_elbow"]),
    (J["left_elbow"], J["left_wrist"]),
    (J["right_shoulder"], J["right_elbow"]),
    (J["right_elbow"], J["right_wrist"]),
    (J["left_hip"], J["right_hip"]),
    (J["left_shoulder"], J["left_hip"]),
    (J["right_shoulder"], J["right_hip"]),
    (J["left_hip"], J["left_knee"]),
    (J["left_knee"], J["left_ankle"]),
    (J["right_hip"], J["right_knee"]),
    (J["right_knee"], J["right_ankle"]),
)


def _mid(a: str, b: str) -> np.ndarray:
    w = np.zeros(len(JOINTS))
    w[J[a]] = w[J[b]] = 0.5
    return w


def _at(name: str) -> np.ndarray:
    w = np.zeros(len(JOINTS))
    w[J[name]] = 1.0
    return w


_NECK = _mid("left_shoulder", "right_shoulder")
_PELVIS = _mid("left_hip", "right_hip")

# (name, mass fraction, proximal end weights, distal end weights, CG fraction from proximal end).
# Fractions follow de Leva (1996), with neighbouring segments merged to match 13 joints: the hand
# rides with the forearm and the foot with the shank, which moves their CG distally.
SEGMENTS = (
    ("head_neck", 0.0694, _NECK, _at("head"), 0.85),
    ("trunk", 0.4346, _NECK, _PELVIS, 0.45),
    ("left_upper_arm", 0.0271, _at("left_shoulder"), _at("left_elbow"), 0.577),
    ("right_upper_arm", 0.0271, _at("right_shoulder"), _at("right_elbow"), 0.577),
    ("left_forearm_hand", 0.0223, _at("left_elbow"), _at("left_wrist"), 0.62),
    ("right_forearm_hand", 0.0223, _at("right_elbow"), _at("right_wrist"), 0.62),
    ("left_thigh", 0.1416, _at("left_hip"), _at("left_knee"), 0.41),
    ("right_thigh", 0.1416, _at("right_hip"), _at("right_knee"), 0.41),
    ("left_shank_foot", 0.0570, _at("left_knee"), _at("left_ankle"), 0.58),
    ("right_shank_foot", 0.0570, _at("right_knee"), _at("right_ankle"), 0.58),
)
SEGMENT_NAMES = tuple(s[0] for s in SEGMENTS)
SEGMENT_MASS = np.array([s[1] for s in SEGMENTS])
# (10, 13): row k maps joints to the CG of segment k (a fixed affine combination of joints).
SEGMENT_CG_WEIGHTS = np.stack([(1 - c) * p + c * d for _, _, p, d, c in SEGMENTS])
# (13,): the body COM is linear in the joints, so a body can be placed by its COM exactly.
COM_WEIGHTS = SEGMENT_MASS @ SEGMENT_CG_WEIGHTS / SEGMENT_MASS.sum()


def _check(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape[-2:] != (len(JOINTS), 3):
        raise ValueError(f"expected joints of shape (..., 13, 3), got {joints.shape}")
    return joints


def pelvis(joints: np.ndarray) -> np.ndarray:
    """Mid-point of the hips: (..., 13, 3) -> (..., 3)."""
    joints = _check(joints)
    return 0.5 * (joints[..., J["left_hip"], :] + joints[..., J["right_hip"], :])


def neck(joints: np.ndarray) -> np.ndarray:
    """Mid-point of the shoulders: (..., 13, 3) -> (..., 3)."""
    joints = _check(joints)
    return 0.5 * (joints[..., J["left_shoulder"], :] + joints[..., J["right_shoulder"], :])


def segment_centres(joints: np.ndarray) -> np.ndarray:
    """Centre of gravity of each segment of :data:`SEGMENTS`: (..., 13, 3) -> (..., 10, 3)."""
    return np.einsum("kj,...jc->...kc", SEGMENT_CG_WEIGHTS, _check(joints))


def centre_of_mass(joints: np.ndarray) -> np.ndarray:
    """Whole-body centre of mass from segment CGs and mass fractions: (..., 13, 3) -> (..., 3)."""
    return np.einsum("j,...jc->...c", COM_WEIGHTS, _check(joints))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def torso_frame(joints: np.ndarray) -> np.ndarray:
    """Orthonormal body frame of the trunk: (..., 13, 3) -> (..., 3, 3).

    Columns are (forward, left, up): up = pelvis -> neck, left = right_hip -> left_hip made
    orthogonal to up, forward = left x up. The matrix maps body coordinates to the joints' frame
    and is a proper rotation (det +1) for any non-degenerate pose.
    """
    joints = _check(joints)
    up = _unit(neck(joints) - pelvis(joints))
    lat = joints[..., J["left_hip"], :] - joints[..., J["right_hip"], :]
    lat = _unit(lat - np.sum(lat * up, axis=-1, keepdims=True) * up)
    fwd = np.cross(lat, up)
    return np.stack([fwd, lat, up], axis=-1)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """Length of every bone in :data:`BONES`: (..., 13, 3) -> (..., 12)."""
    joints = _check(joints)
    a = joints[..., [b[0] for b in BONES], :]
    b = joints[..., [b[1] for b in BONES], :]
    return np.linalg.norm(a - b, axis=-1)


STEADY_QUANTILE = 90.0  # percent: the frames whose skeleton sets the diver's size (below)


def steady_size(joints: np.ndarray, quantile: float = STEADY_QUANTILE) -> np.ndarray:
    """One diver's poses over a clip, each scaled about its pelvis so that its bones sum to the
    ``quantile``-th percentile of the per-frame sums: (N, 13, 3) -> (N, 13, 3).

    A diver does not change size in a dive, but a pose regressor fitted by least squares shrinks
    the poses it is unsure of towards the pelvis: the shipped model's skeletons summed to 0.4-0.6 of
    the true bone length on the held-out diver, varying from frame to frame. The surer frames are
    the larger ones. The percentile was chosen on the training divers' clips (80 to 90 gave the
    least MPJPE there) and cut the median MPJPE on every set measured (benchmarks/RESULTS.md).
    Frames with NaN or no length are left as they are.
    """
    joints = _check(joints)
    assert joints.ndim == 3, joints.shape
    total = bone_lengths(joints).sum(axis=-1)  # (N,)
    ok = np.isfinite(total) & (total > 0)
    if not ok.any():
        return joints.copy()
    target = np.percentile(total[ok], quantile)
    scale = np.where(ok, target / np.where(ok, total, 1.0), 1.0)[:, None, None]
    centre = pelvis(joints)[:, None, :]
    return centre + (joints - centre) * scale
