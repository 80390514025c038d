"""Pinhole camera: intrinsics, extrinsics and projection (OpenCV convention).

Camera frame: x right, y down, z forward (along the optical axis). A world point X maps to the
camera frame as ``X_cam = R @ X_world + t``. Pure and shaped; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pinhole camera with square-pixel or general focal lengths (pixels) and a pose."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    R: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) world -> camera rotation
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) translation, metres

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=np.float64).reshape(3, 3)
        t = np.asarray(self.t, dtype=np.float64).reshape(3)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)

    @property
    def K(self) -> np.ndarray:
        """(3, 3) intrinsic matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def centre(self) -> np.ndarray:
        """(3,) camera centre in world coordinates."""
        return -self.R.T @ self.t

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) -> pixels (..., 2) as (u, v); u right, v down."""
        p = np.asarray(points_cam, dtype=np.float64)
        z = p[..., 2]
        return np.stack([self.fx * p[..., 0] / z + self.cx, self.fy * p[..., 1] / z + self.cy], axis=-1)

    def world_to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> camera-frame points (..., 3)."""
        return np.asarray(points_world, dtype=np.float64) @ self.R.T + self.t

    def camera_to_world(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points (..., 3) -> world points (..., 3)."""
        return (np.asarray(points_cam, dtype=np.float64) - self.t) @ self.R

    def project_world(self, points_world: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> pixels (..., 2)."""
        return self.project(self.world_to_camera(points_world))

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Pixels (...,) -> camera-frame ray directions (..., 3) with z = 1 (unnormalised)."""
        u, v = np.broadcast_arrays(np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64))
        return np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones_like(u)], axis=-1)

    def metres_per_pixel(self, depth_m: float | np.ndarray) -> float | np.ndarray:
        """Size of one pixel on a fronto-parallel plane at ``depth_m`` (uses the mean focal length)."""
        return np.asarray(depth_m) / (0.5 * (self.fx + self.fy))

    def vertical_fov_deg(self) -> float:
        return float(np.degrees(2 * np.arctan2(self.height / 2, self.fy)))

    def to_dict(self) -> dict:
        """JSON-ready dict (plain floats and lists)."""
        return {
            "fx": float(self.fx),
            "fy": float(self.fy),
            "cx": float(self.cx),
            "cy": float(self.cy),
            "width": int(self.width),
            "height": int(self.height),
            "R": self.R.tolist(),
            "t": self.t.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Camera:
        return cls(
            fx=float(d["fx"]),
            fy=float(d["fy"]),
            cx=float(d["cx"]),
            cy=float(d["cy"]),
            width=int(d["width"]),
            height=int(d["height"]),
            R=np.asarray(d.get("R", np.eye(3)), dtype=np.float64),
            t=np.asarray(d.get("t", np.zeros(3)), dtype=np.float64),
        )


def rotation_about(axis: np.ndarray, angle_rad: float | np.ndarray) -> np.ndarray:
    """Rodrigues rotation matrix about a unit ``axis`` (3,): angle (...,) -> (..., 3, 3)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    ang = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(ang)[..., None, None], np.sin(ang)[..., None, None]
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def look_at_rotation(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 1.0, 0.0)) -> np.ndarray:
    """World -> camera rotation (3, 3) for a camera at ``eye`` looking at ``target``.

    ``up`` is the world direction that should appear upwards in the image (camera -y).
    """
    eye, target, up = (np.asarray(x, dtype=np.float64) for x in (eye, target, up))
    z = target - eye
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def look_at(
    eye: np.ndarray,
    target: np.ndarray,
    *,
    fx: float,
    width: int,
    height: int,
    fy: float | None = None,
    cx: float | None = None,
    cy: float | None = None,
    up: np.ndarray = (0.0, 1.0, 0.0),
    roll_rad: float = 0.0,
) -> Camera:
    """A camera at ``eye`` (3,) looking at ``target`` (3,), rolled by ``roll_rad`` about its axis."""
    R = rotation_about(np.array([0.0, 0.0, 1.0]), roll_rad) @ look_at_rotation(eye, target, up)
    t = -R @ np.asarray(eye, dtype=np.float64)
    return Camera(
        fx=fx,
        fy=fx if fy is None else fy,
        cx=width / 2 if cx is None else cx,
        cy=height / 2 if cy is None else cy,
        width=width,
        height=height,
        R=R,
        t=t,
    )
