"""Procedural synthetic dives with exact ground truth (``divekit synth``).

A clip is fully described by a :class:`ClipSpec`; everything else (scene colours, splash, noise)
is drawn from ``numpy.random.default_rng(spec.seed)``, so a spec always renders the same video.
Physics is evaluated at each frame's stored time (the 1/90000 s tick of the writer).

Per clip, :func:`render_clip` writes ``<name>.mp4``, ``<name>.truth.csv`` (one row per frame and
joint, camera-frame metres and pixels), ``<name>.json`` (camera, dive, timing, COM track) and
``<name>.background.png`` (the empty scene at lighting gain 1, the clip's median lighting, without
noise).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from divekit.calibration.camera import Camera, look_at
from divekit.errors import DivekitError
from divekit.skeleton import COM_WEIGHTS, JOINTS, J
from divekit.synth_body import DIVERS, DiveMotion, G, body_dims
from divekit.synth_scene import Background, Canvas, draw_blobs, draw_capsule, random_style, render_background
from divekit.video import quantize_time

__all__ = [
    "DIVERS",
    "HEIGHTS",
    "POSITIONS",
    "DiveSpec",
    "ClipSpec",
    "random_clip_spec",
    "render_clip",
    "render_frames",
    "dataset_specs",
    "contact_sheet",
]

HEIGHTS = (3.0, 5.0, 7.5, 10.0)
DIRECTIONS = ("forward", "backward")
POSITIONS = ("tuck", "pike", "straight", "free")
FPS_CHOICES = (25.0, 29.97, 30.0, 50.0, 59.94, 60.0)
MIN_FPS, MAX_FPS = 10.0, 1000.0  # the rates a fixed-rate set may be asked for (high-speed cameras: 120-1000)
# Sustainable somersault rates (turns/s) by position, and twist rate, to keep dives feasible.
_TURN_RATE = {"tuck": 2.4, "pike": 1.9, "straight": 1.2, "free": 1.4}
_TWIST_RATE = 1.6
MIN_WIDTH, MIN_HEIGHT = 32, 64


@dataclass(frozen=True)
class DiveSpec:
    """What the diver does."""

    height_m: float  # take-off height: 3 (springboard), 5, 7.5 or 10 (platform)
    direction: str  # "forward" (facing the water) or "backward" (back to the water)
    somersaults: float  # turns of the trunk between take-off and first water contact
    twists: float  # turns about the body's long axis
    position: str  # tuck, pike, straight, free

    @property
    def name(self) -> str:
        """Human-readable, e.g. 'forward 2½ somersaults pike'."""

        def count(x: float) -> str:
            whole, half = int(x), (x - int(x)) >= 0.25
            return (str(whole) if whole else "") + ("½" if half else "") or "0"

        group = "forward" if self.direction == "forward" else "back"
        s = self.somersaults
        text = f"{group} {count(s)} somersault{'s' if s > 1 else ''}"
        if self.twists:
            text += f" {count(self.twists)} twist{'s' if self.twists > 1 else ''}"
        return f"{text} {self.position}"

    @property
    def head_first(self) -> bool:
        return round(2 * self.somersaults) % 2 == 1


@dataclass(frozen=True)
class ClipSpec:
    """One clip: the dive, the camera, the timing and the look. Everything else follows the seed."""

    seed: int
    diver: int
    dive: DiveSpec
    fps: float  # nominal rate
    variable_fps: bool
    width: int = 256
    height: int = 512
    approach_s: float = 0.7  # standing + crouch-and-extend before take-off
    takeoff_vx: float = 1.0  # m/s away from the platform
    takeoff_vy: float = 4.0  # m/s up
    post_entry_s: float = 0.6
    camera_side: int = 1  # +1: the dive travels left -> right in the image, -1: right -> left
    yaw_deg: float = 4.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    distance_factor: float = 1.6  # camera distance / vertical extent of the dive
    noise_sigma: float = 2.0  # grey levels
    crf: int = 18


def _check_size(width: int, height: int) -> None:
    if width % 2 or height % 2:
        raise DivekitError(f"frame size must be even, got {width}x{height}")
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise DivekitError(f"frame size must be at least {MIN_WIDTH}x{MIN_HEIGHT}, got {width}x{height}")


def _flight_estimate(diver: int, height_m: float, direction: str, vx: float, vy: float, approach: float) -> float:
    m = DiveMotion(
        DIVERS[diver], height_m=height_m, direction=direction, somersaults=0.5, twists=0.0,
        position="straight", takeoff_velocity=(vx, vy), approach_s=approach,
    )  # fmt: skip
    return m.flight_s


def random_clip_spec(
    rng: np.random.Generator,
    *,
    diver: int | None = None,
    width: int = 256,
    height: int = 512,
    height_m: float | None = None,
    direction: str | None = None,
    position: str | None = None,
    variable_fps: bool | None = None,
    camera_side: int | None = None,
) -> ClipSpec:
    """A random feasible dive; the keyword overrides pin parts of it (for balanced data sets)."""
    _check_size(width, height)
    if diver is not None and not 0 <= diver < len(DIVERS):
        raise DivekitError(f"diver must be in 0..{len(DIVERS) - 1}, got {diver}")
    diver = int(rng.integers(len(DIVERS))) if diver is None else int(diver)
    height_m = float(rng.choice(HEIGHTS)) if height_m is None else float(height_m)
    direction = str(rng.choice(DIRECTIONS)) if direction is None else direction
    position = str(rng.choice(POSITIONS)) if position is None else position
    vy = float(rng.uniform(4.0, 5.0) if height_m == 3.0 else rng.uniform(3.0, 4.5))
    vx = float(rng.uniform(0.7 if direction == "backward" else 0.4, 1.5))
    approach = float(rng.uniform(0.5, 1.0))
    flight = _flight_estimate(diver, height_m, direction, vx, vy, approach)
    max_turns = max(0.5, _TURN_RATE[position] * (flight - 0.4))
    options = [x for x in np.arange(0.5, 3.51, 0.5) if x <= max_turns]
    turns = float(rng.choice(options))
    twists = 0.0
    if position in ("straight", "free"):
        twist_options = [0.0, 0.5, 1.0] if position == "straight" else [0.5, 1.0, 1.5, 2.0]
        twist_options = [x for x in twist_options if x <= _TWIST_RATE * (flight - 0.6)] or [0.0]
        twists = float(rng.choice(twist_options))
    fps = float(rng.choice(FPS_CHOICES))
    vfr = bool(rng.random() < 0.25) if variable_fps is None else bool(variable_fps)
    side = int(rng.choice([-1, 1])) if camera_side is None else int(camera_side)
    return ClipSpec(
        seed=int(rng.integers(2**31 - 1)),
        diver=diver,
        dive=DiveSpec(height_m, direction, turns, twists, position),
        fps=fps,
        variable_fps=vfr,
        width=width,
        height=height,
        approach_s=approach,
        takeoff_vx=vx,
        takeoff_vy=vy,
        post_entry_s=float(rng.uniform(0.4, 0.8)),
        camera_side=side,
        yaw_deg=float(rng.uniform(2.0, 8.0) * rng.choice([-1, 1])),
        pitch_deg=float(rng.uniform(-2.0, 2.0)),
        roll_deg=float(rng.uniform(-2.0, 2.0)),
        distance_factor=float(rng.uniform(1.2, 2.2)),
        noise_sigma=float(rng.uniform(1.5, 3.0)),
    )


def dataset_specs(
    clips: int,
    seed: int,
    *,
    width: int = 256,
    height: int = 512,
    divers: Sequence[int] | None = None,
    fps: float | None = None,
) -> list[tuple[str, ClipSpec]]:
    """A balanced, deterministic set: every 16 clips cover all heights x positions, both
    directions and camera sides; divers round-robin; every fourth clip has a variable rate.
    With ``fps`` every clip is filmed at that fixed rate instead (a high-speed camera), and is
    otherwise the clip the seed gives without it: the same dive, camera and look."""
    if clips < 1:
        raise DivekitError(f"need at least 1 clip, got {clips}")
    if fps is not None and not MIN_FPS <= fps <= MAX_FPS:
        raise DivekitError(f"fps must be within {MIN_FPS:g}-{MAX_FPS:g}, got {fps:g}")
    _check_size(width, height)
    divers = list(range(len(DIVERS))) if divers is None else list(divers)
    if not divers or any(not 0 <= d < len(DIVERS) for d in divers):
        raise DivekitError(f"divers must be in 0..{len(DIVERS) - 1}, got {divers}")
    out = []
    for i in range(clips):
        rng = np.random.default_rng([seed, i])
        d = divers[i % len(divers)]
        spec = random_clip_spec(
            rng,
            diver=d,
            width=width,
            height=height,
            height_m=HEIGHTS[i % 4],
            position=POSITIONS[(i + i // 4) % 4],
            direction=DIRECTIONS[(i // 2) % 2],
            variable_fps=(i % 8) in (2, 7),
            camera_side=1 if (i + i // 4) % 2 == 0 else -1,
        )
        if fps is not None:
            spec = dataclasses.replace(spec, fps=float(fps), variable_fps=False)
        out.append((f"clip{i:03d}_d{d}", spec))
    return out


# --- timing ---------------------------------------------------------------------------------------


def frame_times(spec: ClipSpec, end_s: float, rng: np.random.Generator) -> np.ndarray:
    """Frame times (N,) in seconds, already quantised to the writer's tick."""
    dt = 1.0 / spec.fps
    if not spec.variable_fps:
        raw = np.arange(0.0, end_s + dt, dt)  # the last frame is at or after end_s
        return np.asarray(quantize_time(raw), dtype=np.float64)
    # a phone: switches rate once mid-clip and/or jitters its intervals
    mode = rng.choice(["switch", "jitter", "both"])
    switch_at = rng.uniform(0.3, 0.7) * end_s if mode != "jitter" else np.inf
    other = float(rng.choice([f for f in (24.0, 30.0, 60.0) if abs(f - spec.fps) > 3]))
    jitter = rng.uniform(0.1, 0.3) if mode != "switch" else 0.0
    times, t = [], 0.0
    while not times or times[-1] < end_s:
        times.append(t)
        step = (1.0 / other) if t >= switch_at else dt
        t += step * (1 + jitter * rng.uniform(-1, 1))
    q = np.asarray(quantize_time(np.array(times)), dtype=np.float64)
    return q[np.concatenate([[True], np.diff(q) > 0])]


def handheld_path(times: np.ndarray, amplitude_px: float, rng: np.random.Generator) -> np.ndarray:
    """(N, 2) x, y px: how far a hand-held camera's picture has moved at ``times`` (N,) s. On each
    axis a slow sway (0.2-0.6 Hz) of ``amplitude_px``, a faster one (0.6-1.5 Hz) of half of it, and
    a tremor (6-10 Hz) of a fifth, at random phases. Moving every frame of a still clip by it
    (:func:`divekit.steady.moved_back` by minus the path) makes the clip hand-held."""
    t = np.asarray(times, dtype=np.float64)
    path = np.zeros((len(t), 2))
    for axis in range(2):
        for band, weight in (((0.2, 0.6), 1.0), ((0.6, 1.5), 0.5), ((6.0, 10.0), 0.2)):
            phase = 2 * np.pi * rng.uniform(*band) * t + rng.uniform(0, 2 * np.pi)
            path[:, axis] += amplitude_px * weight * np.sin(phase)
    return path


# --- the scene ------------------------------------------------------------------------------------


@dataclass
class _Splash:
    birth: np.ndarray  # (N,) s
    pos: np.ndarray  # (N, 3) world at birth
    vel: np.ndarray  # (N, 3)
    life: np.ndarray  # (N,)
    radius: np.ndarray  # (N,) m
    colour: np.ndarray  # (N, 3) 0..255
    foam: np.ndarray  # (N,) bool: stays on the surface, spreading out

    def at(self, t: float, g: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        age = t - self.birth
        alive = (age >= 0) & (age < self.life)
        age = np.where(alive, age, 0.0)
        spread = 1 - np.exp(-age / 0.35)
        pos = np.where(
            self.foam[:, None],
            self.pos + self.vel * spread[:, None],
            self.pos + self.vel * age[:, None] - 0.5 * g * age[:, None] ** 2 * np.array([0, 1.0, 0]),
        )
        alive &= pos[:, 1] > -0.05
        fade = np.clip(1 - age / self.life, 0, 1) ** 0.8
        grow = np.where(self.foam, 0.6 + 0.8 * spread, 1.0)
        flat = np.where(self.foam, 0.3, 1.0)
        return pos[alive], (self.radius * grow)[alive], (0.9 * fade)[alive], self.colour[alive], flat[alive]


def _make_splash(rng: np.random.Generator, t_entry: float, where: np.ndarray, speed: float) -> _Splash:
    n_spray, n_foam = 70, 36
    n = n_spray + n_foam
    foam = np.arange(n) >= n_spray
    birth = t_entry + np.where(foam, rng.uniform(0.0, 0.35, n), rng.uniform(0.0, 0.18, n))
    pos = where + np.stack([rng.normal(0, 0.12, n), np.zeros(n), rng.normal(0, 0.12, n)], -1)
    up = rng.uniform(1.5, 2.5 + 0.2 * speed, n)
    vel = np.stack([rng.normal(0, 0.7, n), up, rng.normal(0, 0.7, n)], -1)
    ang = rng.uniform(0, 2 * np.pi, n)
    reach = rng.uniform(0.3, 1.0, n)
    vel[foam] = np.stack([np.cos(ang) * reach, np.zeros(n), np.sin(ang) * reach], -1)[foam]
    pos[foam, 1] = 0.0
    life = np.where(foam, rng.uniform(0.6, 0.9, n), rng.uniform(0.5, 0.8, n))
    radius = np.where(foam, rng.uniform(0.10, 0.22, n), rng.uniform(0.03, 0.09, n))
    tint = rng.uniform(0, 1, n)[:, None]
    colour = np.array([250.0, 252.0, 255.0]) * (1 - tint) + np.array([190.0, 225.0, 245.0]) * tint
    return _Splash(birth, pos, vel, life, radius, colour, foam)


@dataclass
class _Clip:
    """Everything :func:`render_frames` needs, planned once per clip."""

    spec: ClipSpec
    motion: DiveMotion
    camera: Camera
    background: Background
    times: np.ndarray  # (N,)
    points_cam: np.ndarray  # (N, 17, 3) joints, toes, finger tips in the camera frame
    gain: np.ndarray  # (N,)
    splash: _Splash
    rng: np.random.Generator
    water_rgb: np.ndarray  # (3,) float32 colour that submerged body parts fade into


def _fit_camera(spec: ClipSpec, pts_world: np.ndarray, rng: np.random.Generator) -> Camera:
    """Aim at the dive and choose the focal length so everything fits with margins."""
    lo, hi = pts_world.min(0), pts_world.max(0)
    target = 0.5 * (lo + hi)
    target[2] = 0.0
    dist = spec.distance_factor * (hi[1] - lo[1])
    yaw, pitch, roll = np.radians([spec.yaw_deg, spec.pitch_deg, spec.roll_deg])
    offset = np.array([np.sin(yaw), 0.0, spec.camera_side * np.cos(yaw)]) * dist
    eye = target + offset + np.array([0.0, dist * np.tan(pitch), 0.0])
    W, H = spec.width, spec.height
    cx = W / 2 * (1 + rng.uniform(-0.02, 0.02))
    cy = H / 2 * (1 + rng.uniform(-0.02, 0.02))
    probe = look_at(eye, target, fx=1.0, width=W, height=H, cx=0.0, cy=0.0, roll_rad=roll)
    n = probe.project(probe.world_to_camera(pts_world))  # normalised image coordinates
    margin = 0.06
    f = min(
        (cx - margin * W) / max(-n[:, 0].min(), 1e-6),
        (W - cx - margin * W) / max(n[:, 0].max(), 1e-6),
        (cy - margin * H) / max(-n[:, 1].min(), 1e-6),
        (H - cy - margin * H) / max(n[:, 1].max(), 1e-6),
    ) * rng.uniform(0.88, 1.0)
    return dataclasses.replace(probe, fx=f, fy=f, cx=cx, cy=cy)


def _plan(spec: ClipSpec) -> _Clip:
    _check_size(spec.width, spec.height)
    if not 0 <= spec.diver < len(DIVERS):
        raise DivekitError(f"diver must be in 0..{len(DIVERS) - 1}, got {spec.diver}")
    d = spec.dive
    if d.direction not in DIRECTIONS or d.position not in POSITIONS:
        raise DivekitError(f"unknown dive {d.direction}/{d.position}")
    if spec.approach_s < 0.48:
        raise DivekitError(f"approach_s must be at least 0.48 s, got {spec.approach_s}")
    rng = np.random.default_rng(spec.seed)
    motion = DiveMotion(
        DIVERS[spec.diver], height_m=d.height_m, direction=d.direction, somersaults=d.somersaults,
        twists=d.twists, position=d.position, takeoff_velocity=(spec.takeoff_vx, spec.takeoff_vy),
        approach_s=spec.approach_s, g=G,
    )  # fmt: skip
    end = motion.te + spec.post_entry_s
    times = frame_times(spec, end, rng)

    # framing: the whole dive until just after entry, the platform edge and the splash volume
    dense = np.linspace(0.0, motion.te + 0.1, 300)
    entry_pt = motion.points(np.array([motion.te]))[0]
    entry_xz = entry_pt[np.argmin(entry_pt[:, 1])]
    splash_box = np.array([[entry_xz[0] + dx, y, dz] for dx in (-1.0, 1.0) for y in (-0.3, 1.4) for dz in (-0.8, 0.8)])
    edge = np.array([[0.0, d.height_m, 0.0], [-0.8, d.height_m - 0.3, 0.0]])
    framing = np.concatenate([motion.points(dense).reshape(-1, 3), splash_box, edge])
    camera = _fit_camera(spec, framing, rng)

    style = random_style(rng, d.height_m)
    background = render_background(camera, style, d.height_m, springboard=d.height_m <= 3.0)
    pts = camera.world_to_camera(motion.points(times))
    amp, period, phase = rng.uniform(0.02, 0.05), rng.uniform(2.0, 6.0), rng.uniform(0, 2 * np.pi)
    gain = 1 + amp * np.sin(2 * np.pi * times / period + phase)
    # the drift is centred on the clip's median lighting, which the background PNG shows (gain 1):
    # a short clip sees only part of a sine period, whose mean would otherwise be off 1
    gain /= np.median(gain)
    splash = _make_splash(rng, motion.te, entry_xz * np.array([1.0, 0.0, 1.0]), float(-motion.v_entry[1]))
    water = background.image[background.water_rows]
    water_rgb = np.median(water.reshape(-1, 3), axis=0) if water.size else np.array([40.0, 110.0, 140.0])
    return _Clip(spec, motion, camera, background, times, pts, gain, splash, rng, water_rgb.astype(np.float32))


# (a, b, radius attribute at a, at b, part) with "neck"/"pelvis" as derived points
_LIMBS = [
    (f"{s}_{a}", f"{s}_{b}", ra, rb, "skin")
    for s in ("left", "right")
    for a, b, ra, rb in (
        ("shoulder", "elbow", "r_upper_arm", "r_forearm"),
        ("elbow", "wrist", "r_forearm", "r_hand"),
        ("wrist", "fingertip", "r_hand", "r_hand"),
        ("hip", "knee", "r_thigh", "r_shank"),
        ("knee", "ankle", "r_shank", "r_foot"),
        ("ankle", "toe", "r_foot", "r_foot"),
    )
]
_PT = {**J, "left_toe": 13, "right_toe": 14, "left_fingertip": 15, "right_fingertip": 16}


def _draw_diver(frame: np.ndarray, clip: _Clip, p: np.ndarray) -> None:
    """Draw the body from its 17 camera-frame points (17, 3) into ``frame`` (in place)."""
    cam, dims = clip.camera, body_dims(DIVERS[clip.spec.diver])
    diver = DIVERS[clip.spec.diver]
    H, W = frame.shape[:2]
    uv = cam.project(p)
    rmax = cam.fy * dims.r_head * 1.5 / p[:, 2].min()
    x0, y0 = np.floor(uv.min(0) - rmax - 2).astype(int)
    x1, y1 = np.ceil(uv.max(0) + rmax + 2).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x0 >= x1 or y0 >= y1:
        return
    canvas = Canvas(x0, y0, x1, y1)
    neck = 0.5 * (p[J["left_shoulder"]] + p[J["right_shoulder"]])
    pelvis = 0.5 * (p[J["left_hip"]] + p[J["right_hip"]])
    up = (neck - pelvis) / np.linalg.norm(neck - pelvis)
    skin, suit = np.array(diver.skin), np.array(diver.suit)
    bg = clip.background
    wet = (bg.up_per_depth, bg.up_offset, clip.water_rgb)
    prims = [
        (pelvis + 0.2 * dims.r_trunk * up, neck - 0.55 * dims.r_trunk * up, 0.92 * dims.r_trunk, dims.r_trunk, suit),
        (p[J["left_hip"]], p[J["right_hip"]], dims.r_hip, dims.r_hip, suit),
        (p[J["left_shoulder"]], p[J["right_shoulder"]], dims.r_shoulder, dims.r_shoulder, skin),
        (neck, p[J["head"]], 0.45 * dims.r_head, 0.45 * dims.r_head, skin),
    ]
    prims += [(p[_PT[a]], p[_PT[b]], getattr(dims, ra), getattr(dims, rb), skin) for a, b, ra, rb, _ in _LIMBS]
    order = np.argsort([-(a[2] + b[2]) for a, b, *_ in prims])
    for k in order:
        a, b, ra, rb, c = prims[k]
        draw_capsule(canvas, cam, a, b, ra, rb, c, wet)
    # the head last among equals: a sphere with hair on the crown
    up_img = cam.project(p[J["head"]] + 0.1 * up) - cam.project(p[J["head"]])
    up_img /= max(np.linalg.norm(up_img), 1e-9)
    draw_capsule(canvas, cam, p[J["head"]], p[J["head"]], dims.r_head, dims.r_head, skin, wet,
                 hair=(up_img, np.array(diver.hair)))  # fmt: skip
    canvas.composite(frame)


class _NoiseBank:
    """A few precomputed Gaussian noise images, sliced at random row offsets per frame."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, sigma: float, count: int = 3):
        self.pad = 48
        self.bank = [
            (rng.standard_normal((height + self.pad, width, 3)) * sigma).astype(np.float32) for _ in range(count)
        ]
        self.height = height

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.integers(len(self.bank)))
        off = int(rng.integers(self.pad))
        return self.bank[k][off : off + self.height]


def _frames(clip: _Clip) -> Iterator[tuple[float, np.ndarray]]:
    spec, bg, rng = clip.spec, clip.background, clip.rng
    noise = _NoiseBank(rng, spec.width, spec.height, spec.noise_sigma)
    omega = rng.uniform(2.0, 4.0)  # shimmer phase speed (rad/s)
    frame = np.empty_like(bg.image)
    for i, t in enumerate(clip.times):
        np.copyto(frame, bg.image)
        if bg.water_rows.stop > bg.water_rows.start:
            shimmer = np.cos(omega * t) * bg.shimmer_a + np.sin(omega * t) * bg.shimmer_b
            frame[bg.water_rows] += shimmer[..., None] * bg.water_tint
        _draw_diver(frame, clip, clip.points_cam[i])
        pos, rad, alpha, colour, flat = clip.splash.at(float(t), G)
        if len(pos):
            pc = clip.camera.world_to_camera(pos)
            draw_blobs(frame, clip.camera.project(pc), clip.camera.fy * rad / pc[:, 2], alpha, colour, flat)
        frame *= clip.gain[i]
        frame += noise.draw(rng)
        np.clip(frame, 0, 255, out=frame)
        yield float(t), frame.astype(np.uint8)


def render_frames(spec: ClipSpec) -> Iterator[tuple[float, np.ndarray]]:
    """(time_s, (H, W, 3) uint8 RGB frame) for every frame of the clip, without writing files."""
    return _frames(_plan(spec))


# --- outputs --------------------------------------------------------------------------------------


def truth_table(clip: _Clip):
    """Per-frame, per-joint ground truth as a DataFrame: frame,time_s,joint,x,y,z,u,v."""
    import pandas as pd

    n = len(clip.times)
    xyz = clip.points_cam[:, :13]
    uv = clip.camera.project(xyz)
    return pd.DataFrame(
        {
            "frame": np.repeat(np.arange(n), 13),
            "time_s": np.repeat(clip.times, 13),
            "joint": np.tile(np.array(JOINTS), n),
            "x": xyz[..., 0].ravel(),
            "y": xyz[..., 1].ravel(),
            "z": xyz[..., 2].ravel(),
            "u": uv[..., 0].ravel(),
            "v": uv[..., 1].ravel(),
        }
    )


def clip_metadata(clip: _Clip) -> dict:
    spec, m, cam = clip.spec, clip.motion, clip.camera
    com = np.einsum("j,njc->nc", COM_WEIGHTS, clip.points_cam[:, :13])
    com_uv = cam.project(com)
    in_flight = (clip.times >= m.t0) & (clip.times <= m.te)
    flight_t = np.linspace(m.t0, m.te, 200)
    depth = cam.world_to_camera(m.ballistic(flight_t))[:, 2]
    apex = spec.takeoff_vy**2 / (2 * m.g)
    d = spec.dive
    return {
        "fps": spec.fps,
        "variable_fps": spec.variable_fps,
        "frame_count": len(clip.times),
        "image_size": {"width": spec.width, "height": spec.height},
        "intrinsics": {"fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy},
        "camera": cam.to_dict(),
        "world_frame": "x along the dive away from the platform, y up from the water surface, z lateral; "
        "platform edge at x=0; X_cam = R @ X_world + t",
        "diver": {"id": spec.diver, **dataclasses.asdict(DIVERS[spec.diver])},
        "dive": {**dataclasses.asdict(d), "name": d.name, "head_first": d.head_first},
        "takeoff_time_s": m.t0,
        "entry_time_s": float(m.te),
        "com_entry_time_s": float(m.t_com_entry),
        "metres_per_pixel": float(np.mean(depth) / (0.5 * (cam.fx + cam.fy))),
        "apex_height_m": float(apex),
        "entry_speed_m_s": float(np.linalg.norm(m.v_entry)),
        "takeoff_velocity_m_s": [spec.takeoff_vx, spec.takeoff_vy],
        "com_track": {
            "time_s": clip.times.tolist(),
            "x": com[:, 0].tolist(),
            "y": com[:, 1].tolist(),
            "z": com[:, 2].tolist(),
            "u": com_uv[:, 0].tolist(),
            "v": com_uv[:, 1].tolist(),
        },
        "in_flight": in_flight.tolist(),
        "lighting_gain": clip.gain.tolist(),
        "g": m.g,
        "seed": spec.seed,
        "spec": dataclasses.asdict(spec),
    }


def render_clip(spec: ClipSpec, out_dir: Path, name: str) -> list[Path]:
    """Render one clip into ``out_dir``: video, truth CSV, metadata JSON, background PNG."""
    from PIL import Image

    from divekit.io import atomic_path, ensure_writable_dir, write_json_atomic
    from divekit.video import VideoWriter

    out_dir = ensure_writable_dir(Path(out_dir))
    clip = _plan(spec)
    paths = [out_dir / f"{name}{s}" for s in (".mp4", ".truth.csv", ".json", ".background.png")]
    with atomic_path(paths[0]) as tmp:
        with VideoWriter(tmp, spec.width, spec.height, fps_hint=spec.fps, crf=spec.crf) as writer:
            for t, frame in _frames(clip):
                writer.write(frame, t)
    with atomic_path(paths[1]) as tmp:
        truth_table(clip).to_csv(tmp, index=False, float_format="%.7f")
    write_json_atomic(paths[2], json.loads(json.dumps(clip_metadata(clip), default=float)))
    with atomic_path(paths[3]) as tmp:
        Image.fromarray(np.clip(np.round(clip.background.image), 0, 255).astype(np.uint8)).save(tmp, format="PNG")
    return paths


def contact_sheet(sources: Sequence[Path | ClipSpec], out_png: Path, *, moments: int = 5, title: bool = True) -> None:
    """A grid of sample frames: one row per clip (a video path or a spec), ``moments`` columns
    spread over the clip's time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not sources:
        raise DivekitError("contact_sheet needs at least one clip")
    rows = []
    for src in sources:
        if isinstance(src, ClipSpec):
            frames = list(render_frames(src))
            pick = np.linspace(0, len(frames) - 1, moments).round().astype(int)
            rows.append((src.dive.name, [frames[k] for k in pick]))
        else:
            from divekit.video import VideoReader

            reader = VideoReader(Path(src))
            pick = reader.sample_evenly(moments)
            label = Path(src).stem
            meta = Path(src).with_suffix(".json")
            if meta.exists():
                label = json.loads(meta.read_text())["dive"]["name"]
            times = reader.timestamps[pick]
            rows.append((label, [(float(t), f) for t, f in zip(times, reader.read(pick), strict=True)]))
    h, w = rows[0][1][0][1].shape[:2]
    fig, axes = plt.subplots(len(rows), moments, figsize=(moments * 1.6 * w / h * 2, len(rows) * 3.4), squeeze=False)
    for r, (label, frames) in enumerate(rows):
        for c in range(moments):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(frames):
                t, img = frames[c]
                ax.imshow(img)
                ax.set_title(f"{label}\n{t:.2f} s" if (c == 0 and title) else f"{t:.2f} s", fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
