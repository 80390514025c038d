import numpy as np
import pytest

from divekit.overlay import draw_frame, project_skeleton, write_overlay
from divekit.skeleton import COM_WEIGHTS, J
from divekit.video import VideoReader


def test_project_skeleton_by_hand():
    pose = np.zeros((1, 13, 3))
    pose[0, J["head"]] = [0.1, -0.8, 0.3]
    pose[0, J["left_ankle"]] = [-0.2, 0.9, -0.1]
    centre = np.array([[100.0, 200.0]])
    # with an offset: the offset's x, y sits on the centre; 0.01 m/px
    out = project_skeleton(pose, centre, np.array([[0.1, -0.2, 5.0]]), 0.01)
    assert out.shape == (1, 13, 2)
    np.testing.assert_allclose(out[0, J["head"]], [100.0, 140.0])  # (0.1 - 0.1) / 0.01, (-0.8 + 0.2) / 0.01
    np.testing.assert_allclose(out[0, J["left_ankle"]], [70.0, 310.0])
    np.testing.assert_allclose(out[0, J["right_hip"]], [90.0, 220.0])
    # default reference: the centre of mass, linear in the joints
    com = COM_WEIGHTS[J["head"]] * pose[0, J["head"]] + COM_WEIGHTS[J["left_ankle"]] * pose[0, J["left_ankle"]]
    out = project_skeleton(pose, centre, None, np.array([0.02]))
    np.testing.assert_allclose(out[0, J["head"]], centre[0] + (pose[0, J["head"], :2] - com[:2]) / 0.02)
    with pytest.raises(ValueError):
        project_skeleton(pose, centre, None, -0.01)


def test_draw_frame_draws_the_box_and_leaves_the_rest():
    frame = np.full((120, 160, 3), 40, np.uint8)
    before = frame.copy()
    out = draw_frame(frame, (100.0, 60.0, 40.0, 30.0), None, [])
    assert out.shape == frame.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(frame, before)  # the input is not drawn on
    assert (out[45, 90] != 40).any() and (out[60, 80] != 40).any()  # top and left edges
    assert (out[60, 100] == 40).all()  # inside the box
    far = np.ones((120, 160), bool)
    far[40:81, 75:126] = False
    assert (out[far] == 40).all()
    # skeleton and text: pixels change near them, not in the far corner
    joints = np.tile([[100.0, 60.0]], (13, 1))
    joints[J["left_ankle"]] = [100.0, 85.0]
    out = draw_frame(frame, None, joints, ["1.2 s", "0.5 turns"])
    assert (out[5, 5] != 40).any() and (out[75, 100] != 40).any()
    assert (out[110, 20] == 40).all() and (out[110, 150] == 40).all()
    np.testing.assert_array_equal(draw_frame(frame, (np.nan, 0, 1, 1), np.full((13, 2), np.nan), []), frame)


def test_write_overlay_keeps_every_frame_and_its_time(tmp_path, falling_square):
    clip = falling_square
    n = len(clip.times)
    boxes = np.concatenate([clip.centres, np.full((n, 2), 20.0)], axis=1)
    joints = np.repeat(clip.centres[:, None, :], 13, axis=1)
    joints[:, J["left_ankle"], 1] += 8
    calls = []
    out = tmp_path / "overlay.mp4"
    write_overlay(
        clip.path, out, boxes, joints, lambda i: [f"frame {i}"], batch_size=16, progress=lambda d, t: calls.append(d)
    )
    back = VideoReader(out)
    assert len(back) == n and (back.info.width, back.info.height) == (64, 128)
    np.testing.assert_allclose(back.timestamps, VideoReader(clip.path).timestamps, atol=1e-3)
    assert calls == [16, 32, n]
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]
    # the box's top edge shows in the decoded frame; the scene far below it is as it was
    diff = np.abs(back.read([10])[0].astype(int) - VideoReader(clip.path).read([10])[0].astype(int)).sum(-1)
    cx, cy = clip.centres[10]
    top = int(round(cy - 10))
    assert (diff[top - 1 : top + 2, int(cx) - 5 : int(cx) + 6].max(axis=0) > 150).all()
    assert diff[100:, :].mean() < 15


def test_write_overlay_at_a_working_size_and_bad_inputs(tmp_path, falling_square):
    clip = falling_square
    n = len(clip.times)
    boxes = np.concatenate([clip.centres, np.full((n, 2), 10.0)], axis=1)
    out = tmp_path / "small.mp4"
    write_overlay(clip.path, out, boxes, None, [[] for _ in range(n)], size=(32, 64))
    back = VideoReader(out)
    assert len(back) == n and (back.info.width, back.info.height) == (32, 64)
    with pytest.raises(ValueError):
        write_overlay(clip.path, tmp_path / "bad.mp4", boxes[:-1], None, lambda i: [])
    with pytest.raises(ValueError):
        write_overlay(clip.path, tmp_path / "bad.mp4", boxes, None, [["x"]])
    assert not (tmp_path / "bad.mp4").exists()
