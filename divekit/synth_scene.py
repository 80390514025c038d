"""Drawing for the synthetic dives: the pool background, shaded capsules, splash blobs.

Images are float32 (H, W, 3) in 0..255 until the final conversion. Geometry is in the world
frame of :mod:`divekit.synth_body` (x along the dive, y up from the water, z lateral); the camera
follows :mod:`divekit.calibration.camera`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from divekit.calibration.camera import Camera

LIGHT_CAM = np.array([-0.45, -0.70, -0.55]) / np.linalg.norm([-0.45, -0.70, -0.55])  # towards the light
AMBIENT = 0.45


@dataclass(frozen=True)
class SceneStyle:
    """Per-clip look of the pool (colours 0..1)."""

    tile: tuple[float, float, float]
    grout: tuple[float, float, float]
    tile_size_m: float
    tile_jitter: float
    stripe: tuple[float, float, float]
    stripe_y_m: float
    wall_distance_m: float  # behind the dive plane
    water: tuple[float, float, float]
    water_far: tuple[float, float, float]
    tower: tuple[float, float, float]
    ceiling: tuple[float, float, float]
    wave_seed: int


def random_style(rng: np.random.Generator, height_m: float) -> SceneStyle:
    base = rng.choice(
        [(0.80, 0.84, 0.86), (0.70, 0.80, 0.88), (0.86, 0.84, 0.78), (0.62, 0.72, 0.78), (0.78, 0.82, 0.74)]
    )
    tile = tuple(np.clip(np.asarray(base) + rng.normal(0, 0.03, 3), 0, 1))
    stripe = rng.choice([(0.10, 0.25, 0.60), (0.75, 0.15, 0.15), (0.10, 0.45, 0.35), (0.90, 0.60, 0.10)])
    water = tuple(np.clip(np.array([0.10, 0.45, 0.60]) + rng.normal(0, 0.05, 3), 0, 1))
    return SceneStyle(
        tile=tile,
        grout=tuple(np.asarray(tile) * rng.uniform(0.6, 0.8)),
        tile_size_m=float(rng.uniform(0.25, 0.5)),
        tile_jitter=float(rng.uniform(0.02, 0.06)),
        stripe=tuple(stripe),
        stripe_y_m=float(rng.uniform(1.5, height_m + 1.5)),
        wall_distance_m=float(rng.uniform(4.0, 9.0)),
        water=water,
        water_far=tuple(np.clip(np.asarray(water) * 1.25 + 0.08, 0, 1)),
        tower=tuple(np.clip(np.array([0.62, 0.62, 0.60]) + rng.normal(0, 0.04, 3), 0, 1)),
        ceiling=tuple(np.clip(np.array([0.35, 0.37, 0.40]) + rng.normal(0, 0.03, 3), 0, 1)),
        wave_seed=int(rng.integers(2**31)),
    )


def _boxes(height_m: float, springboard: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Axis-aligned boxes (lo, hi) of the take-off structure; the edge is at x = 0."""
    if springboard:
        return [
            (np.array([-4.8, height_m - 0.08, -0.26]), np.array([0.0, height_m, 0.26])),  # board
            (np.array([-2.6, 0.0, -0.35]), np.array([-2.2, height_m - 0.08, 0.35])),  # fulcrum stand
            (np.array([-4.9, 0.0, -0.35]), np.array([-4.5, height_m - 0.08, 0.35])),  # rear stand
        ]
    return [
        (np.array([-6.0, height_m - 0.35, -1.2]), np.array([0.0, height_m, 1.2])),  # platform slab
        (np.array([-5.5, -1.0, -1.0]), np.array([-3.5, height_m - 0.35, 1.0])),  # column
    ]


def _hash01(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random numbers in [0, 1) per integer cell."""
    h = (i.astype(np.int64) * 73856093) ^ (j.astype(np.int64) * 19349663) ^ seed
    h = (h * 2654435761) & 0xFFFFFFFF
    return (h % 10007) / 10007.0


def _line_cover(coord: np.ndarray, period: float, width: float, pix: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage of lines of ``width`` every ``period`` along ``coord``."""
    d = np.abs((coord / period + 0.5) % 1.0 - 0.5) * period  # distance to the nearest line
    cov = np.clip((width / 2 - d) / np.maximum(pix, 1e-6) + 0.5, 0, 1)
    # lines thinner than a pixel average out to their area fraction
    return np.where(pix > width, np.minimum(width / np.maximum(pix, 1e-6), 1.0) * 0.8, cov)


@dataclass
class Background:
    """Static per-clip scene: base image, water shimmer textures, per-pixel geometry."""

    image: np.ndarray  # (H, W, 3) float32, lighting gain 1, no noise
    shimmer_a: np.ndarray  # (H, W) float32 quadrature pair of the travelling wave pattern
    shimmer_b: np.ndarray
    water_rows: slice  # rows that contain any water
    water_tint: np.ndarray  # (3,) colour direction of the shimmer
    up_per_depth: np.ndarray  # (H, W) float32: world y of a pixel's point = z_cam * this + offset
    up_offset: float


def render_background(cam: Camera, style: SceneStyle, height_m: float, springboard: bool) -> Background:
    """Ray-cast the empty pool once per clip."""
    H, W = cam.height, cam.width
    v, u = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    d_cam = cam.rays(u, v)  # (H, W, 3), z = 1
    d = d_cam @ cam.R  # world directions (unnormalised; camera z step = 1)
    o = cam.centre
    pix = 1.0 / cam.fy  # metres per pixel per metre of camera depth
    img = np.empty((H, W, 3))
    img[:] = style.ceiling

    # back wall: plane z = wall_z on the far side of the dive plane
    wall_z = -np.sign(o[2]) * style.wall_distance_m
    t_wall = (wall_z - o[2]) / d[..., 2]
    t_wall = np.where(t_wall > 0, t_wall, np.inf)
    p = o + t_wall[..., None] * d
    wall_top = height_m + 6.0
    wall = np.isfinite(t_wall) & (p[..., 1] < wall_top)
    fp = pix * t_wall  # footprint of a pixel on the wall (approximately fronto-parallel)
    ts = style.tile_size_m
    ti, tj = np.floor(p[..., 0] / ts), np.floor(p[..., 1] / ts)
    jitter = (_hash01(ti, tj, style.wave_seed) - 0.5) * 2 * style.tile_jitter
    tile = np.asarray(style.tile)[None, None] * (1 + jitter[..., None])
    grout = np.maximum(_line_cover(p[..., 0], ts, 0.015, fp), _line_cover(p[..., 1], ts, 0.015, fp))
    col = tile * (1 - grout[..., None]) + np.asarray(style.grout) * grout[..., None]
    band = (np.abs(p[..., 1] - style.stripe_y_m) < 0.35)[..., None]
    col = np.where(band, np.asarray(style.stripe) * (1 + 0.5 * jitter[..., None]), col)
    col *= (0.85 + 0.15 * np.clip(p[..., 1] / wall_top, 0, 1))[..., None]  # lit from above
    img[wall] = col[wall]
    t_hit = np.where(wall, t_wall, np.inf)

    # water surface y = 0 (in front of the wall)
    t_water = np.where(d[..., 1] < 0, -o[1] / np.where(d[..., 1] < 0, d[..., 1], -1.0), np.inf)
    water = t_water < t_hit
    pw = o + np.where(np.isfinite(t_water), t_water, 0.0)[..., None] * d
    dist = np.linalg.norm(pw - o, axis=-1)
    far = np.clip((dist - 5.0) / 30.0, 0, 1)[..., None]
    wcol = np.asarray(style.water) * (1 - far) + np.asarray(style.water_far) * far
    # grazing angles reflect more of the bright wall
    graze = np.clip(1 - (-d[..., 1] / np.linalg.norm(d, axis=-1)) * 4, 0, 1)[..., None]
    wcol = wcol * (1 - 0.35 * graze) + np.asarray(style.tile) * 0.35 * graze
    img[water] = wcol[water]
    t_hit = np.where(water, t_water, t_hit)

    # wave textures: a few travelling waves, faded where they would alias
    rng = np.random.default_rng(style.wave_seed)
    sa = np.zeros((H, W))
    sb = np.zeros((H, W))
    fpw = pix * t_water
    for _ in range(4):
        k = rng.uniform(2.0, 7.0)
        ang = rng.uniform(0, 2 * np.pi)
        ph = k * (np.cos(ang) * pw[..., 0] + np.sin(ang) * pw[..., 2]) + rng.uniform(0, 2 * np.pi)
        amp = np.exp(-((k * fpw) ** 2)) * 0.5 + 0.15
        sa += amp * np.cos(ph)
        sb += amp * np.sin(ph)
    sa = np.where(water, sa, 0.0) * 9.0
    sb = np.where(water, sb, 0.0) * 9.0

    # take-off structure: slab tests against axis-aligned boxes
    light_w = np.array([0.3, 0.9, 0.35]) / np.linalg.norm([0.3, 0.9, 0.35])
    for lo, hi in _boxes(height_m, springboard):
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - o) / d
            t2 = (hi - o) / d
        tn = np.nanmax(np.minimum(t1, t2), axis=-1)
        tf = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tn <= tf) & (tn > 0) & (tn < t_hit)
        if not hit.any():
            continue
        axis = np.argmax(np.minimum(t1, t2), axis=-1)  # the face the ray enters through
        normal = np.zeros((H, W, 3))
        np.put_along_axis(normal, axis[..., None], -np.sign(np.take_along_axis(d, axis[..., None], -1)), -1)
        shade = 0.55 + 0.45 * np.clip(normal @ light_w, 0, 1)
        col = np.asarray(style.tower)[None, None] * shade[..., None]
        if springboard:
            col = col * 0 + np.array([0.92, 0.92, 0.88]) * shade[..., None]
        ph = o + tn[..., None] * d
        edge = np.abs(ph[..., 1] - height_m) < 0.04  # a bright non-slip edge line
        col = np.where(edge[..., None], np.array([0.95, 0.85, 0.2]) * shade[..., None], col)
        img[hit] = col[hit]
        t_hit = np.where(hit, tn, t_hit)

    rows = np.nonzero(water.any(axis=1))[0]
    water_rows = slice(int(rows[0]), int(rows[-1]) + 1) if len(rows) else slice(0, 0)
    # world y of a pixel's point at camera depth z: y = z * (R[:,1] . d_cam) - R[:,1] . t
    up_per_depth = (d_cam @ cam.R[:, 1]).astype(np.float32)
    return Background(
        image=(img * 255).astype(np.float32),
        shimmer_a=sa.astype(np.float32)[water_rows],
        shimmer_b=sb.astype(np.float32)[water_rows],
        water_rows=water_rows,
        water_tint=np.array([0.7, 1.0, 1.0], dtype=np.float32),
        up_per_depth=up_per_depth,
        up_offset=float(-cam.R[:, 1] @ cam.t),
    )


class Canvas:
    """Premultiplied colour, coverage and depth over a region of interest, composited over the
    frame at the end. Primitives use the 'over' operator where nearer, 'under' where farther."""

    def __init__(self, x0: int, y0: int, x1: int, y1: int):
        self.x0, self.y0, self.x1, self.y1 = x0, y0, x1, y1
        h, w = y1 - y0, x1 - x0
        self.col = np.zeros((h, w, 3), np.float32)
        self.alpha = np.zeros((h, w), np.float32)
        self.depth = np.full((h, w), np.inf, np.float32)

    def add(self, sl: tuple[slice, slice], rgb: np.ndarray, a: np.ndarray, z: np.ndarray) -> None:
        col, al, dep = self.col[sl], self.alpha[sl], self.depth[sl]
        front = z < dep
        a_over = np.where(front, a, a * (1 - al))
        keep = np.where(front, 1 - a, 1.0)
        col *= keep[..., None]
        col += rgb * a_over[..., None]
        al[:] = al * keep + a_over
        dep[:] = np.where(front & (a > 0.5), z, dep)

    def composite(self, frame: np.ndarray) -> None:
        roi = frame[self.y0 : self.y1, self.x0 : self.x1]
        roi *= (1 - self.alpha)[..., None]
        roi += self.col


def _clip(x, lo: float, hi: float):
    """np.clip without its Python-level dispatch (this runs ~20 000 times per clip)."""
    return np.minimum(np.maximum(x, lo), hi)


def draw_capsule(
    canvas: Canvas,
    cam: Camera,
    a_cam: np.ndarray,
    b_cam: np.ndarray,
    ra: float,
    rb: float,
    color: np.ndarray,
    underwater: tuple[np.ndarray, float, np.ndarray],
    hair: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """A shaded, anti-aliased cone-sphere between camera points a and b (radii in metres).

    The silhouette is exact for a fronto-parallel capsule; depth and normals use a local
    spherical cross-section, which is all a 20-80 px diver needs.
    """
    f = cam.fy
    za, zb = a_cam[2], b_cam[2]
    pa = np.array([cam.fx * a_cam[0] / za + cam.cx, f * a_cam[1] / za + cam.cy])
    pb = np.array([cam.fx * b_cam[0] / zb + cam.cx, f * b_cam[1] / zb + cam.cy])
    rpa, rpb = f * ra / za, f * rb / zb
    rmax = max(rpa, rpb) + 1.5
    x0 = max(int(np.floor(min(pa[0], pb[0]) - rmax)), canvas.x0)
    x1 = min(int(np.ceil(max(pa[0], pb[0]) + rmax)) + 1, canvas.x1)
    y0 = max(int(np.floor(min(pa[1], pb[1]) - rmax)), canvas.y0)
    y1 = min(int(np.ceil(max(pa[1], pb[1]) + rmax)) + 1, canvas.y1)
    if x0 >= x1 or y0 >= y1:
        return
    px = np.arange(x0, x1, dtype=np.float32) + 0.5
    py = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
    ab = pb - pa
    L2 = float(ab @ ab)
    s = ((px - pa[0]) * ab[0] + (py - pa[1]) * ab[1]) / L2 if L2 > 1e-9 else np.zeros((y1 - y0, x1 - x0))
    s = _clip(s, 0.0, 1.0)
    dx = px - (pa[0] + s * ab[0])
    dy = py - (pa[1] + s * ab[1])
    rad = rpa + s * (rpb - rpa)
    dist = np.sqrt(dx * dx + dy * dy)
    cover = _clip(rad - dist + 0.5, 0.0, 1.0).astype(np.float32)
    if not cover.any():
        return
    q = _clip(dist / np.maximum(rad, 1e-3), 0.0, 1.0)
    nz = -np.sqrt(1.0 - q * q)
    inv = 1.0 / np.maximum(rad, 1e-3)
    lam = (dx * inv * LIGHT_CAM[0] + dy * inv * LIGHT_CAM[1] + nz * LIGHT_CAM[2]).astype(np.float32)
    shade = AMBIENT + (1 - AMBIENT) * _clip(lam, 0.0, 1.0)
    zc = za + s * (zb - za)
    z = (zc + nz * (ra + s * (rb - ra))).astype(np.float32)
    rgb = np.broadcast_to(np.asarray(color, np.float32) * 255, (y1 - y0, x1 - x0, 3))
    if hair is not None:  # the top of the head (towards the body's up direction) in hair colour
        up2, hair_rgb = hair
        top = (dx * up2[0] + dy * up2[1]) * inv > 0.15
        rgb = np.where(top[..., None], np.asarray(hair_rgb, np.float32) * 255, rgb)
    rgb = rgb * shade[..., None]
    # parts below the water surface are seen through it: mostly water colour
    up_per_depth, up_offset, water_rgb = underwater
    y_world = z * up_per_depth[y0:y1, x0:x1] + up_offset
    below = y_world < 0
    if below.any():
        wet = (_clip(0.75 - 0.5 * y_world, 0.0, 0.92) * below)[..., None]
        rgb = rgb * (1 - wet) + water_rgb * wet
    canvas.add((slice(y0 - canvas.y0, y1 - canvas.y0), slice(x0 - canvas.x0, x1 - canvas.x0)), rgb, cover, z)


def draw_blobs(
    frame: np.ndarray, uv: np.ndarray, radius_px: np.ndarray, alpha: np.ndarray, rgb: np.ndarray, flat: np.ndarray
) -> None:
    """Soft round blobs over the frame (in place): centres (N, 2), radii (N,), alpha (N,),
    colours (N, 3) 0..255, vertical squash (N,) (1 round, < 1 flattened foam)."""
    H, W = frame.shape[:2]
    for (u, v), r, a, c, fl in zip(uv, radius_px, alpha, rgb, flat, strict=True):
        r = max(float(r), 0.7)
        ry = max(r * fl, 0.6)
        x0, x1 = max(int(u - r - 1), 0), min(int(u + r + 2), W)
        y0, y1 = max(int(v - ry - 1), 0), min(int(v + ry + 2), H)
        if x0 >= x1 or y0 >= y1 or a <= 0.01:
            continue
        px = (np.arange(x0, x1, dtype=np.float32) + 0.5 - u) / r
        py = ((np.arange(y0, y1, dtype=np.float32) + 0.5 - v) / ry)[:, None]
        w = np.clip(1.0 - (px * px + py * py), 0.0, 1.0) * min(1.0, r) * a
        w = np.minimum(w * 1.6, a)[..., None]
        roi = frame[y0:y1, x0:x1]
        roi *= 1 - w
        roi += w * c
