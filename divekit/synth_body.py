"""Bodies and motion of the synthetic dives: diver identities, poses, and the dive in world space.

World frame (metres): x horizontal along the dive, pointing away from the platform; y up from the
water surface; z lateral (x, y, z right-handed). The platform edge is at x = 0, its top at
y = height. Body-local frame: x forward, y up (pelvis -> neck), z to the diver's right; the pelvis
is the origin. All functions are pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from divekit.calibration.camera import rotation_about
from divekit.skeleton import COM_WEIGHTS, J

G = 9.81


@dataclass(frozen=True)
class Diver:
    """One synthetic athlete: proportions, build and colours (RGB 0..1)."""

    name: str
    height_m: float
    leg_ratio: float  # multiplies thigh and shank lengths
    arm_ratio: float  # multiplies upper arm and forearm lengths
    girth: float  # multiplies every radius
    skin: tuple[float, float, float]
    suit: tuple[float, float, float]
    hair: tuple[float, float, float]


DIVERS: tuple[Diver, ...] = (
    Diver("ava", 1.62, 1.00, 1.00, 0.92, (0.93, 0.76, 0.64), (0.85, 0.10, 0.12), (0.35, 0.22, 0.10)),
    Diver("ben", 1.82, 1.03, 1.02, 1.08, (0.80, 0.60, 0.45), (0.10, 0.20, 0.70), (0.10, 0.08, 0.06)),
    Diver("chen", 1.70, 0.98, 0.97, 0.98, (0.96, 0.82, 0.68), (0.08, 0.08, 0.10), (0.05, 0.05, 0.06)),
    Diver("dara", 1.55, 0.97, 1.01, 0.88, (0.55, 0.37, 0.25), (0.95, 0.75, 0.05), (0.08, 0.06, 0.05)),
    Diver("emil", 1.90, 1.05, 1.04, 1.15, (0.90, 0.70, 0.58), (0.10, 0.60, 0.25), (0.75, 0.55, 0.25)),
    Diver("fay", 1.66, 1.01, 0.99, 0.95, (0.70, 0.50, 0.36), (0.60, 0.15, 0.70), (0.20, 0.10, 0.05)),
)


# Pose parameters (radians except foot): hip flexion (thigh from hanging, forward positive), knee
# flexion, shoulder flexion (arm from hanging, forward/up positive), shoulder abduction, elbow
# flexion, foot pointing (0 flat, 1 pointed), whole-body forward lean (used only on the board; the
# legs compensate through hip flexion so the feet stay under the body).
POSE_FIELDS = ("hip", "knee", "shoulder", "abduction", "elbow", "foot", "lean")
POSES = {
    "stand": np.array([0.0, 0.03, 0.05, 0.12, 0.15, 0.0, 0.0]),
    "crouch": np.array([1.35, 1.25, -0.75, 0.10, 0.20, 0.0, 0.45]),
    "takeoff": np.array([0.08, 0.05, np.pi - 0.15, 0.10, 0.05, 1.0, 0.0]),
    "tuck": np.array([2.30, 2.35, 0.30, 0.10, 1.30, 1.0, 0.0]),
    "pike": np.array([2.55, 0.00, 1.90, 0.05, 0.30, 1.0, 0.0]),
    "straight": np.array([0.00, 0.00, 0.05, 0.15, 0.05, 1.0, 0.0]),
    "free": np.array([0.05, 0.05, 0.40, -0.05, 2.30, 1.0, 0.0]),
    "entry_head": np.array([0.00, 0.00, np.pi, 0.00, 0.00, 1.0, 0.0]),
    "entry_feet": np.array([0.00, 0.00, 0.00, 0.05, 0.00, 1.0, 0.0]),
}


@dataclass(frozen=True)
class BodyDims:
    """Segment lengths and radii (metres) of one diver."""

    trunk: float
    neck_head: float
    shoulder_half: float
    hip_half: float
    upper_arm: float
    forearm: float
    hand: float
    thigh: float
    shank: float
    foot: float
    ankle_height: float
    r_head: float
    r_trunk: float
    r_shoulder: float
    r_hip: float
    r_upper_arm: float
    r_forearm: float
    r_hand: float
    r_thigh: float
    r_shank: float
    r_foot: float


def body_dims(diver: Diver) -> BodyDims:
    """Anthropometric lengths as fractions of stature (Drillis-Contini-like), scaled per diver."""
    h, g = diver.height_m, diver.girth
    return BodyDims(
        trunk=0.288 * h,
        neck_head=0.118 * h,
        shoulder_half=0.100 * h,
        hip_half=0.052 * h,
        upper_arm=0.186 * h * diver.arm_ratio,
        forearm=0.146 * h * diver.arm_ratio,
        hand=0.075 * h * diver.arm_ratio,
        thigh=0.245 * h * diver.leg_ratio,
        shank=0.246 * h * diver.leg_ratio,
        foot=0.10 * h,
        ankle_height=0.039 * h,
        r_head=0.058 * h,
        r_trunk=0.072 * h * g,
        r_shoulder=0.034 * h * g,
        r_hip=0.052 * h * g,
        r_upper_arm=0.030 * h * g,
        r_forearm=0.024 * h * g,
        r_hand=0.018 * h * g,
        r_thigh=0.048 * h * g,
        r_shank=0.033 * h * g,
        r_foot=0.020 * h * g,
    )


def _limb_dir(alpha: np.ndarray, beta: np.ndarray, side: float) -> np.ndarray:
    """Unit vector (..., 3) at angle alpha from straight down towards forward, abducted by beta."""
    return np.stack([np.sin(alpha) * np.cos(beta), -np.cos(alpha) * np.cos(beta), side * np.sin(beta)], axis=-1)


def local_joints(dims: BodyDims, pose: np.ndarray) -> np.ndarray:
    """Joints in the body-local frame for pose parameters (..., 7) -> (..., 13, 3)."""
    pose = np.asarray(pose, dtype=np.float64)
    hip, knee, sh, ab, el = (pose[..., i] for i in range(5))
    out = np.zeros(pose.shape[:-1] + (13, 3))
    out[..., J["head"], :] = [0.02 * dims.neck_head, dims.trunk + dims.neck_head, 0.0]
    for side, s in (("left", -1.0), ("right", 1.0)):
        shoulder = np.array([0.0, dims.trunk, s * dims.shoulder_half])
        hipj = np.array([0.0, 0.0, s * dims.hip_half])
        elbow = shoulder + dims.upper_arm * _limb_dir(sh, ab, s)
        wrist = elbow + dims.forearm * _limb_dir(sh + el, ab, s)
        kneej = hipj + dims.thigh * _limb_dir(hip, 0.02 * np.ones_like(hip), s)
        ankle = kneej + dims.shank * _limb_dir(hip - knee, 0.02 * np.ones_like(hip), s)
        out[..., J[f"{side}_shoulder"], :] = shoulder
        out[..., J[f"{side}_elbow"], :] = elbow
        out[..., J[f"{side}_wrist"], :] = wrist
        out[..., J[f"{side}_hip"], :] = hipj
        out[..., J[f"{side}_knee"], :] = kneej
        out[..., J[f"{side}_ankle"], :] = ankle
    return out


def foot_tips(dims: BodyDims, pose: np.ndarray, joints_local: np.ndarray) -> np.ndarray:
    """Toe points (..., 2, 3) (left, right) in the body-local frame: the foot turns from
    perpendicular to the shank (flat) to along it (pointed)."""
    hip, knee, foot, lean = pose[..., 0], pose[..., 1], pose[..., 5], pose[..., 6]
    alpha = (1 - foot) * (np.pi / 2 + lean) + foot * (hip - knee + 0.15)
    d = _limb_dir(alpha, np.zeros_like(alpha), 1.0)
    ankles = joints_local[..., [J["left_ankle"], J["right_ankle"]], :]
    return ankles + dims.foot * d[..., None, :]


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def interp_keys(times: np.ndarray, key_t: list[float], key_v: list[np.ndarray]) -> np.ndarray:
    """Piecewise smoothstep interpolation of keyframe vectors: (N,) -> (N, D)."""
    times = np.asarray(times, dtype=np.float64)
    kt = np.asarray(key_t)
    kv = np.stack(key_v)
    i = np.clip(np.searchsorted(kt, times, side="right") - 1, 0, len(kt) - 2)
    w = smoothstep((times - kt[i]) / np.maximum(kt[i + 1] - kt[i], 1e-9))[:, None]
    return kv[i] * (1 - w) + kv[i + 1] * w


def hermite(s: np.ndarray, p0, m0, p1, m1, duration: float) -> tuple[np.ndarray, np.ndarray]:
    """Cubic Hermite position and velocity at s in [0, 1] (s: (N,), points (3,))."""
    s = np.asarray(s)[:, None]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    pos = h00 * p0 + h10 * duration * m0 + h01 * p1 + h11 * duration * m1
    d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
    vel = (d00 * p0 + d01 * p1) / duration + d10 * m0 + d11 * m1
    return pos, vel


def inertia_proxy(dims: BodyDims, pose: np.ndarray) -> np.ndarray:
    """Moment-of-inertia proxy about the lateral axis through the COM: poses (N, 7) -> (N,)."""
    from divekit.skeleton import SEGMENT_CG_WEIGHTS, SEGMENT_MASS

    jl = local_joints(dims, pose)
    cg = np.einsum("kj,njc->nkc", SEGMENT_CG_WEIGHTS, jl)[..., :2]
    com = np.einsum("j,njc->nc", COM_WEIGHTS, jl)[:, None, :2]
    # point masses plus a constant for the segments' own inertia
    return np.sum(SEGMENT_MASS * np.sum((cg - com) ** 2, axis=-1), axis=-1) + 0.01 * dims.trunk


def rot_y(a: float | np.ndarray) -> np.ndarray:
    return rotation_about(np.array([0.0, 1.0, 0.0]), a)


def rot_z(a: float | np.ndarray) -> np.ndarray:
    return rotation_about(np.array([0.0, 0.0, 1.0]), a)


# Extra surface points carried with the joints for drawing: toes and finger tips.
EXTRA_POINTS = ("left_toe", "right_toe", "left_fingertip", "right_fingertip")


def body_points_local(dims: BodyDims, pose: np.ndarray) -> np.ndarray:
    """Joints plus toes and finger tips in the body-local frame: poses (N, 7) -> (N, 17, 3)."""
    jl = local_joints(dims, pose)
    toes = foot_tips(dims, pose, jl)
    fore = jl[:, [J["left_wrist"], J["right_wrist"]]] - jl[:, [J["left_elbow"], J["right_elbow"]]]
    fore /= np.linalg.norm(fore, axis=-1, keepdims=True)
    tips = jl[:, [J["left_wrist"], J["right_wrist"]]] + dims.hand * fore
    return np.concatenate([jl, toes, tips], axis=1)


def point_radii(dims: BodyDims) -> np.ndarray:
    """(17,) surface radius around each point of :func:`body_points_local` (for water contact)."""
    r = np.full(17, dims.r_upper_arm)
    r[J["head"]] = dims.r_head
    r[[J["left_hip"], J["right_hip"]]] = dims.r_hip
    r[[J["left_knee"], J["right_knee"]]] = dims.r_shank
    r[[J["left_ankle"], J["right_ankle"]]] = dims.r_shank
    r[[J["left_wrist"], J["right_wrist"]]] = dims.r_forearm
    r[13:15] = dims.r_foot
    r[15:17] = dims.r_hand
    return r


@dataclass(frozen=True)
class DiveTimeline:
    takeoff_s: float
    entry_s: float  # first body contact with the water
    com_entry_s: float  # the centre of mass crosses the surface
    crouch_start_s: float
    extend_start_s: float


class DiveMotion:
    """The whole dive as a function of time, in world coordinates.

    The COM is placed exactly: on a cubic Hermite from the crouch to the take-off state, on the
    ballistic parabola from take-off to first water contact, then decelerating in the water.
    """

    DRAG_TAU_S = 0.35

    def __init__(
        self,
        diver: Diver,
        *,
        height_m: float,
        direction: str,
        somersaults: float,
        twists: float,
        position: str,
        takeoff_velocity: tuple[float, float],
        approach_s: float,
        g: float = G,
    ):
        self.dims = d = body_dims(diver)
        self.g = g
        self.turns, self.twists, self.position = somersaults, twists, position
        self.facing = np.eye(3) if direction == "forward" else rot_y(np.pi)
        self.v0 = np.array([takeoff_velocity[0], takeoff_velocity[1], 0.0])
        self.feet = np.array([-0.12 if direction == "forward" else -0.06, height_m + d.ankle_height, 0.0])
        self.radii = point_radii(d)
        head_first = (round(2 * somersaults) % 2) == 1
        self.entry_pose = POSES["entry_head" if head_first else "entry_feet"]

        t0 = approach_s
        self.t_extend = t0 - 0.22
        self.t_crouch = self.t_extend - 0.25
        self.t0 = t0
        self._approach_keys = (
            [0.0, self.t_crouch, self.t_extend, t0],
            [POSES["stand"], POSES["stand"], POSES["crouch"], POSES["takeoff"]],
        )
        # the board's surface as the body touches it: the lowest surface point of the standing diver
        self.contact_y = self._lowest(self._placed_on_feet(POSES["stand"][None], self.feet)[0])[0]
        # take-off state: take-off pose (feet pointed, heels up) with the toes' tips on the board
        pts, com = self._placed_on_feet(POSES["takeoff"][None], self.feet)
        self.p0 = com[0] + np.array([0.0, self.contact_y - self._lowest(pts)[0], 0.0])
        self.p_crouch = self._placed_on_feet(POSES["crouch"][None], self.feet)[1][0]

        # first water contact: the entry pose at its final orientation, lowest surface point at y = 0
        R_end = rot_z(-2 * np.pi * somersaults) @ self.facing @ rot_y(2 * np.pi * twists)
        pts = body_points_local(d, self.entry_pose[None])[0] @ R_end.T
        com = COM_WEIGHTS @ pts[:13]
        drop = com[1] - np.min(pts[:, 1] - self.radii)  # COM height above the lowest surface point
        vy, y0 = self.v0[1], self.p0[1]
        tau = (vy + np.sqrt(vy**2 + 2 * g * (y0 - drop))) / g
        self.te = t0 + tau
        self.flight_s = tau
        self.p_entry = self.ballistic(np.array([self.te]))[0]
        self.v_entry = self.v0 - np.array([0.0, g * tau, 0.0])
        # the COM crosses y = 0 while decelerating: y_e + vy_e * T (1 - exp(-s/T)) = 0
        T = self.DRAG_TAU_S
        frac = 1 + self.p_entry[1] / (self.v_entry[1] * T)
        self.t_com_entry = self.te - T * np.log(frac) if frac > 0 else float("nan")

        # flight pose keys: take-off -> position -> hold -> come-out -> entry pose
        F = tau
        tr = min(0.22, 0.18 * F)
        d_co = min(0.28, 0.2 * F)
        tr_co = min(0.2, 0.15 * F)
        pos = POSES[position]
        self._flight_keys = (
            [t0, t0 + tr, self.te - d_co - tr_co, self.te - d_co, self.te + 10.0],
            [POSES["takeoff"], pos, pos, self.entry_pose, self.entry_pose],
        )
        self._twist_window = (t0 + tr, self.te - d_co - tr_co)
        # somersault angle: d(theta)/dt proportional to 1 / I(pose), scaled to the exact turns
        grid = np.linspace(t0, self.te, 2001)
        omega = 1.0 / inertia_proxy(d, self.pose(grid))
        theta = np.concatenate([[0.0], np.cumsum(0.5 * (omega[1:] + omega[:-1]) * np.diff(grid))])
        self._theta_grid = grid
        self._theta = theta * (2 * np.pi * somersaults / theta[-1])

    @property
    def timeline(self) -> DiveTimeline:
        return DiveTimeline(self.t0, self.te, float(self.t_com_entry), self.t_crouch, self.t_extend)

    # --- kinematics -----------------------------------------------------------------------------
    def pose(self, t: np.ndarray) -> np.ndarray:
        """Pose parameters (N, 7) at times (N,)."""
        t = np.asarray(t, dtype=np.float64)
        out = interp_keys(t, *self._approach_keys)
        ext = (t >= self.t_extend) & (t < self.t0)
        if ext.any():
            out[ext] = self._extension_pose(t[ext])
        fl = t >= self.t0
        if fl.any():
            out[fl] = interp_keys(t[fl], *self._flight_keys)
        # a small arm swing while standing, fading out before the crouch
        fade = smoothstep((self.t_crouch - t) / 0.2)
        out[:, 2] += 0.25 * np.sin(2 * np.pi * t / 1.1) * fade
        return out

    def orientation(self, t: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """Body-local -> world rotations (N, 3, 3) at times (N,) for poses (N, 7)."""
        t = np.asarray(t, dtype=np.float64)
        lean = pose[:, 6]
        theta = np.interp(t, self._theta_grid, self._theta)
        a, b = self._twist_window
        psi = 2 * np.pi * self.twists * smoothstep((t - a) / max(b - a, 1e-6))
        return rot_z(-theta) @ self.facing @ rot_z(-lean) @ rot_y(psi)

    def ballistic(self, t: np.ndarray) -> np.ndarray:
        tau = np.asarray(t, dtype=np.float64)[:, None] - self.t0
        return self.p0 + self.v0 * tau - 0.5 * self.g * tau**2 * np.array([0.0, 1.0, 0.0])

    EXTENSION_STEPS = 200  # the crouch -> take-off blend is solved on this grid, then interpolated

    def _extension_pose(self, t: np.ndarray) -> np.ndarray:
        """Poses (N, 7) that keep the toes on the board while the COM rises on its Hermite.

        The pose blends from the crouch to the take-off pose; at each time the blend is the one
        whose lowest surface point, with the body placed on the COM, is on the board. It exists:
        the crouch (blend 0) placed on the rising COM is above the board, the take-off pose (blend
        1) on a COM still below ``p0`` reaches below it. The extension lengthens the body below its
        COM, so the lowest point falls as the blend grows and the first crossing is the one.
        """
        w = np.linspace(0.0, 1.0, self.EXTENSION_STEPS + 1)
        blends = POSES["crouch"] * (1 - w[:, None]) + POSES["takeoff"] * w[:, None]
        R = self.facing @ rot_z(-blends[:, 6])
        pts = np.einsum("nij,npj->npi", R, body_points_local(self.dims, blends))
        com = np.einsum("j,njc->nc", COM_WEIGHTS, pts[:, :13])
        below_com = com[:, 1] - self._lowest(pts)  # (W,) how far the lowest point is below the COM
        # at time t the lowest point is com_y(t) - below_com[w]: on the board where below_com = com_y - contact
        need = self.com(t)[:, 1] - self.contact_y
        k = np.clip(np.searchsorted(below_com, need), 1, len(w) - 1)  # below_com grows with the blend
        frac = np.clip((need - below_com[k - 1]) / (below_com[k] - below_com[k - 1]), 0.0, 1.0)
        blend = (w[k - 1] + frac * (w[k] - w[k - 1]))[:, None]
        return POSES["crouch"] * (1 - blend) + POSES["takeoff"] * blend

    def _lowest(self, pts: np.ndarray) -> np.ndarray:
        """World height (N,) of the lowest surface point of placed points (N, 17, 3)."""
        return np.min(pts[..., 1] - self.radii, axis=-1)

    def _placed_on_feet(self, pose: np.ndarray, feet: np.ndarray):
        R = self.facing @ rot_z(-pose[:, 6])
        pts = np.einsum("nij,npj->npi", R, body_points_local(self.dims, pose))
        ankles = 0.5 * (pts[:, J["left_ankle"]] + pts[:, J["right_ankle"]])
        pts = pts + (feet - ankles)[:, None, :]
        return pts, np.einsum("j,njc->nc", COM_WEIGHTS, pts[:, :13])

    def com(self, t: np.ndarray) -> np.ndarray | None:
        """Prescribed COM (N, 3) where it is prescribed; NaN rows while the feet are planted."""
        t = np.asarray(t, dtype=np.float64)
        out = np.full((len(t), 3), np.nan)
        ext = (t >= self.t_extend) & (t < self.t0)
        if ext.any():
            s = (t[ext] - self.t_extend) / (self.t0 - self.t_extend)
            out[ext] = hermite(s, self.p_crouch, np.zeros(3), self.p0, self.v0, self.t0 - self.t_extend)[0]
        fl = (t >= self.t0) & (t <= self.te)
        out[fl] = self.ballistic(t[fl])
        wet = t > self.te
        if wet.any():
            s = (t[wet] - self.te)[:, None]
            T = self.DRAG_TAU_S
            out[wet] = self.p_entry + self.v_entry * T * (1 - np.exp(-s / T))
        return out

    def points(self, t: np.ndarray) -> np.ndarray:
        """World positions (N, 17, 3) of the joints, toes and finger tips at times (N,)."""
        t = np.asarray(t, dtype=np.float64)
        pose = self.pose(t)
        R = self.orientation(t, pose)
        pts = np.einsum("nij,npj->npi", R, body_points_local(self.dims, pose))
        com_now = np.einsum("j,njc->nc", COM_WEIGHTS, pts[:, :13])
        target = self.com(t)
        planted = np.isnan(target[:, 0])
        ankles = 0.5 * (pts[:, J["left_ankle"]] + pts[:, J["right_ankle"]])
        shift = np.where(planted[:, None], self.feet - ankles, target - com_now)
        return pts + shift[:, None, :]
