import json

import numpy as np
import pytest

from divekit.calibration import Camera, look_at, rotation_about


def test_project_hand_computed():
    cam = Camera(fx=500, fy=400, cx=100, cy=200, width=200, height=400)
    uv = cam.project(np.array([[1.0, -2.0, 10.0], [0.0, 0.0, 5.0]]))
    assert uv == pytest.approx(np.array([[150.0, 120.0], [100.0, 200.0]]))


def test_world_camera_round_trip_and_dict():
    R = rotation_about(np.array([0.2, 1.0, 0.1]), 0.4)
    cam = Camera(fx=300, fy=300, cx=64, cy=128, width=128, height=256, R=R, t=np.array([0.5, -1.0, 12.0]))
    pts = np.random.default_rng(0).normal(size=(4, 5, 3))
    assert cam.camera_to_world(cam.world_to_camera(pts)) == pytest.approx(pts)
    assert cam.world_to_camera(cam.centre) == pytest.approx(np.zeros(3), abs=1e-9)
    back = Camera.from_dict(json.loads(json.dumps(cam.to_dict())))
    assert back.project_world(pts) == pytest.approx(cam.project_world(pts))
    assert np.linalg.det(cam.R) == pytest.approx(1.0)


def test_look_at_orientation():
    # camera on +z looking at the origin: world +x is image right, world +y is image up
    cam = look_at(np.array([0.0, 0.0, 10.0]), np.zeros(3), fx=100, width=100, height=200)
    assert cam.world_to_camera(np.zeros(3)) == pytest.approx([0, 0, 10])
    u, v = cam.project_world(np.array([1.0, 1.0, 0.0]))
    assert u > 50 and v < 100
    assert cam.project_world(np.zeros(3)) == pytest.approx([50, 100])
    # roll keeps the optical axis
    rolled = look_at(np.array([0.0, 0.0, 10.0]), np.zeros(3), fx=100, width=100, height=200, roll_rad=0.1)
    assert rolled.R[2] == pytest.approx(cam.R[2])
