"""Physics and cameras: camera model and projection (more calibration tools join this package)."""

from divekit.calibration.camera import Camera, look_at, look_at_rotation, rotation_about

__all__ = ["Camera", "look_at", "look_at_rotation", "rotation_about"]
