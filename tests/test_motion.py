import numpy as np
import pytest

from divekit.data import load_clip
from divekit.gravity import attention_loss, clip_prior, proposal_attention, proposal_loss
from divekit.inference import boxes_to_pixels, pixels_to_boxes
from divekit.motion import depth_weights, foreground, motion_track, plausible_acceleration, silhouettes
from divekit.truth import box_iou, clip_meta, truth_boxes


def test_foreground_marks_what_differs_from_the_background():
    background = np.full((16, 16, 3), 100, np.uint8)
    frames = np.repeat(background[None], 2, axis=0)
    frames[1, 4:8, 8:12] = 200
    fg = foreground(frames, background, factor=4)
    assert fg.shape == (2, 4, 4)
    assert fg[0].max() == 0
    assert fg[1, 1, 2] == 1.0 and fg[1].sum() == 1.0


def test_motion_track_follows_the_diver_and_ignores_persistent_differences(dive_folder):
    video = dive_folder / "dive0.mp4"
    clip = load_clip(video, (128, 256))
    background = clip.background.copy()
    background[100:102, :] = 0  # a line that differs in every frame: a background error, not a diver
    track = motion_track(clip.frames, background, clip.times)
    boxes, flight = truth_boxes(video)
    ok = track.valid & flight
    assert ok.mean() > 0.8 * flight.mean()
    err = np.abs(track.centre[ok] - boxes[ok, :2]).max(axis=1)
    assert np.median(err) < 0.15 * boxes[ok, 3].mean()


def test_prior_finds_the_flight_and_proposes_boxes_on_the_diver(dive_folder):
    for name in ("dive0", "dive1"):
        video = dive_folder / f"{name}.mp4"
        clip = load_clip(video, (128, 256))
        prior = clip_prior(clip)
        meta = clip_meta(video)
        assert prior.window is not None
        assert abs(prior.window.t_start - meta["takeoff_time_s"]) < 0.2
        assert abs(prior.window.t_end - meta["entry_time_s"]) < 0.2
        boxes, flight = truth_boxes(video)
        px = boxes_to_pixels(prior.proposals, clip.size)
        assert (box_iou(px[flight], boxes[flight]) >= 0.3).mean() > 0.7


def test_plausible_acceleration_range():
    lo, hi = plausible_acceleration(500, (2.0, 40.0))
    assert lo == 9.81 * 500 / 40 and hi == 9.81 * 500 / 2


def test_proposal_loss_by_hand():
    import torch

    boxes = torch.tensor([[0.2, 0.1, 0.0, 0.5]])
    props = torch.tensor([[0.1, 0.1, 0.3, 0.1]])
    # centre: 0.3² + 0.4² = 0.25; size: log(2)² + 0
    expected = 0.25 + np.log(2) ** 2
    assert abs(float(proposal_loss(boxes, props)) - expected) < 1e-6


def test_proposal_attention_by_hand():
    import torch

    # a 1x4 grid: cells of width 0.5 centred at -0.75, -0.25, 0.25, 0.75 (affine_grid units).
    # Half-size s_x = 0.375 / (√3/2): the region is u_x ± 0.375 = [-0.25, 0.5], which covers half
    # of cell 1 and all of cell 2; s_y = 1 / (√3/2) covers the one row.
    props = torch.tensor([[0.375 * 2 / np.sqrt(3), 2 / np.sqrt(3), 0.125, 0.0]], dtype=torch.float64)
    target = proposal_attention(props, (1, 4))
    np.testing.assert_allclose(target[0, 0].numpy(), [0.0, 1 / 3, 2 / 3, 0.0], atol=1e-12)
    # KL against the attention (0.1, 0.2, 0.3, 0.4): 1/3 ln((1/3)/0.2) + 2/3 ln((2/3)/0.3) = 0.702614
    log_attention = torch.log(torch.tensor([[[0.1, 0.2, 0.3, 0.4]]], dtype=torch.float64))
    assert abs(float(attention_loss(log_attention, props)) - 0.7026137) < 1e-6
    # a 2x2 grid, the region exactly the left column; a flat attention is ln 2 from it
    props = torch.tensor([[1 / np.sqrt(3), 2 / np.sqrt(3), -0.5, 0.0]])
    np.testing.assert_allclose(proposal_attention(props, (2, 2))[0].numpy(), [[0.5, 0.0], [0.5, 0.0]], atol=1e-7)
    assert abs(float(attention_loss(torch.full((1, 2, 2), np.log(0.25)), props)) - np.log(2)) < 1e-6


def test_attention_loss_skips_proposals_off_the_grid():
    import torch

    off = torch.tensor([[0.1, 0.1, 3.0, 0.0]])  # centred beyond the frame's right edge
    assert proposal_attention(off, (2, 2)).sum() == 0
    flat = torch.full((2, 2, 2), np.log(0.25), requires_grad=True)
    on = torch.tensor([[1 / np.sqrt(3), 2 / np.sqrt(3), -0.5, 0.0]])
    loss = attention_loss(flat, torch.cat([on, off]))
    assert abs(float(loss.detach()) - np.log(2)) < 1e-6  # the mean over the one proposal on the grid
    loss.backward()
    assert flat.grad[1].abs().sum() == 0


def test_box_iou_by_hand():
    a = np.array([[5.0, 5.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    b = np.array([[10.0, 5.0, 10.0, 10.0], [10.0, 10.0, 2.0, 2.0]])
    # overlap 5x10 = 50; union 100 + 100 - 50 = 150; disjoint -> 0
    np.testing.assert_allclose(box_iou(a, b), [50 / 150, 0.0])


def test_pixel_and_affine_boxes_round_trip():
    px = np.array([[32.0, 64.0, 16.0, 32.0]])
    # centre (32, 64) of a 64x128 frame is (0, 0); a 16x32 box is a quarter of each side
    np.testing.assert_allclose(pixels_to_boxes(px, (64, 128)), [[0.25, 0.25, 0.0, 0.0]])
    np.testing.assert_allclose(boxes_to_pixels(pixels_to_boxes(px, (64, 128)), (64, 128)), px)


def test_silhouette_axis_follows_a_rotated_bar():
    # a 3-px-thick, 21-px-long bright bar at 0°, 45° and 90° (image axes, y down) on a grey 40x40 frame
    background = np.full((40, 40, 3), 100, dtype=np.uint8)
    frames = np.repeat(background[None], 3, axis=0).copy()
    yy, xx = np.mgrid[0:40, 0:40] - 20.0
    for k, deg in enumerate((0.0, 45.0, 90.0)):
        a = np.radians(deg)
        along, across = xx * np.cos(a) + yy * np.sin(a), -xx * np.sin(a) + yy * np.cos(a)
        frames[k][(np.abs(along) <= 10) & (np.abs(across) <= 1.5)] = 220
    boxes = np.tile([20.0, 20.0, 30.0, 30.0], (3, 1))
    angles = silhouettes(frames, background, boxes).angle
    np.testing.assert_allclose(np.degrees(angles), [0.0, 45.0, 90.0], atol=2.0)
    empty = silhouettes(background[None], background, boxes[:1])
    assert np.isnan(empty.angle[0]) and np.isnan(empty.centre[0]).all()  # nothing there


def test_silhouette_of_a_box_over_the_frame_edge():
    # a box reaching past the bottom-right corner (a diver entering at the bottom of the frame):
    # the part inside the frame is measured; found on a rendered clip whose box ended on the last row
    background = np.full((40, 40, 3), 100, dtype=np.uint8)
    frame = background.copy()
    frame[30:40, 36:39] = 220  # a vertical bar touching the bottom edge
    shape = silhouettes(frame[None], background, np.array([[37.0, 36.0, 8.0, 9.3]]))
    np.testing.assert_allclose(np.degrees(shape.angle), [90.0], atol=2.0)
    # rows 30-39 and columns 36-38, every pixel at full strength: centroid (37.5, 35.0) in pixel
    # coordinates where pixel (i, j) covers [j, j + 1) x [i, i + 1)
    np.testing.assert_allclose(shape.centre, [[37.5, 35.0]])


def test_silhouette_is_the_strongest_connected_part_of_the_box():
    # a diver lying flat (a 15x3 bar) and, apart from it in the same box, a board edge that moved
    # (a 2-px-high, 20-px-long strip, weaker): the silhouette is the bar alone
    background = np.full((60, 60, 3), 100, dtype=np.uint8)
    frame = background.copy()
    # threshold: the floor, 25 (median + 6 MAD is 0 here); strength clip((diff - 25) / 25, 0, 1)
    frame[20:23, 20:35] = 250  # the diver: diff 150, 45 px at strength 1 (45 in all)
    frame[40:42, 15:35] = 140  # the board: diff 40, 40 px at strength 0.6 (24 in all)
    box = np.array([[30.0, 30.0, 30.0, 40.0]])
    shape = silhouettes(frame[None], background, box)
    # the bar: columns 20-34 and rows 20-22 -> centroid (27 + 0.5, 21 + 0.5), long axis horizontal
    np.testing.assert_allclose(shape.centre, [[27.5, 21.5]])
    np.testing.assert_allclose(np.degrees(shape.angle), [0.0], atol=1e-6)


def test_depth_weights_by_hand():
    # a 3x5 block: the rim is one pixel from the outside, the three pixels inside it two
    ys, xs = np.mgrid[0:3, 0:5]
    weights = depth_weights(xs.ravel(), ys.ravel()).reshape(3, 5)
    np.testing.assert_allclose(weights, [[1, 1, 1, 1, 1], [1, 2, 2, 2, 1], [1, 1, 1, 1, 1]])


def test_silhouette_centroid_weighs_the_thick_body_over_a_thin_limb():
    # a 3x3 trunk (rows 20-22, columns 20-22) with a 1-px arm on its middle row (columns 23-25)
    background = np.full((50, 50, 3), 100, dtype=np.uint8)
    frame = background.copy()
    frame[20:23, 20:23] = 250
    frame[21, 23:26] = 250  # every pixel at strength 1 (difference 150, threshold 25)
    shape = silhouettes(frame[None], background, np.array([[23.0, 21.0, 16.0, 12.0]]))
    # depths: the trunk's centre (21, 21) 2, its pixel next to the arm (21, 22) sqrt(2) (the
    # nearest outside pixel is diagonal, above the arm), the other 10 pixels 1; sum 12 + sqrt(2).
    # Columns: 20 * 3 + 21 * 4 + 22 * (2 + sqrt(2)) + 23 + 24 + 25 over that sum = 21.70181 (the
    # plain centroid would be 21.75); rows symmetric about 21. Pixel centres at + 0.5.
    x = (20 * 3 + 21 * 4 + 22 * (2 + np.sqrt(2)) + 23 + 24 + 25) / (12 + np.sqrt(2))
    assert abs(x - 21.70181) < 1e-5
    np.testing.assert_allclose(shape.centre, [[x + 0.5, 21.5]])


def test_silhouette_centroid_takes_in_a_limb_the_box_missed():
    # a 3-px trunk (rows 10-19, columns 18-20) whose 1-px leg (column 19) hangs to row 28, out of
    # the box (rows 10-19) and of its window (margin 0.1: rows 9-21). The silhouette runs into the
    # window's lower edge, so the window grows down by half the box's height (5 rows) twice, to
    # row 31, and holds the whole leg; the axis is still the window's own part's (vertical).
    background = np.full((60, 40, 3), 100, dtype=np.uint8)
    frame = background.copy()
    frame[10:20, 18:21] = 250
    frame[20:29, 19] = 250
    shape = silhouettes(frame[None], background, np.array([[19.5, 15.0, 6.0, 10.0]]))
    ys, xs = np.nonzero(frame[..., 0] == 250)
    mass = depth_weights(xs, ys)  # every pixel at strength 1
    # the trunk's inner column weighs 2 on rows 11-18 and sqrt(2) on row 19 (beside the leg's top)
    assert mass.sum() == pytest.approx(30 + 8 + np.sqrt(2) - 1 + 9)
    expected = [(mass @ xs) / mass.sum() + 0.5, (mass @ ys) / mass.sum() + 0.5]
    np.testing.assert_allclose(shape.centre, [expected])
    assert expected[1] == pytest.approx(16.84, abs=0.01)  # the window's own part (leg to row 21): 15.34
    np.testing.assert_allclose(np.degrees(shape.angle) % 180, [90.0], atol=1e-6)


def test_silhouette_grown_window_keeps_the_diver_not_a_stronger_blob():
    # The diver of the test above, faint (30 grey levels over the background against a threshold of
    # 25: strength 0.2 a pixel, 48 px), and a bright splash (strength 1) from row 30 down. The window
    # grows down twice, to row 31, and takes in two rows of the splash across its 9 columns: 18
    # against the diver's 9.6. The centroid is still the diver's, as if the splash were not there.
    background = np.full((60, 40, 3), 100, dtype=np.uint8)
    diver = background.copy()
    diver[10:20, 18:21] = 130
    diver[20:29, 19] = 130
    frame = diver.copy()
    frame[30:40, 10:30] = 250
    box = np.array([[19.5, 15.0, 6.0, 10.0]])
    alone = silhouettes(diver[None], background, box)
    shape = silhouettes(frame[None], background, box)
    np.testing.assert_allclose(shape.centre, alone.centre)
    assert 15.0 < shape.centre[0, 1] < 20.0


def test_silhouette_axis_keeps_the_window_while_the_centroid_grows():
    # A 3x10 upright bar crossed at its middle row by a 1-px line of the scene that differs from the
    # background across the whole frame (a lane line under changed light). In the window (the 6x10
    # box widened by 0.1: columns 15-23) the line adds 6 px: the axis stays upright. The centroid's
    # window grows twice by 3 columns a side (columns 9-29): second moments there would turn the
    # axis flat (the line's 21 px against the bar's 3x10), but the axis keeps the window's part. The
    # centroid takes the grown part: columns 9-29 about the bar's (x 19.5), and rows pulled from the
    # bar's middle (14.5 + 0.5) towards the line's (15 + 0.5), each line pixel weighing 1.
    background = np.full((40, 40, 3), 100, dtype=np.uint8)
    frame = background.copy()
    frame[10:20, 18:21] = 250
    frame[15, :] = 250
    shape = silhouettes(frame[None], background, np.array([[19.5, 15.0, 6.0, 10.0]]))
    np.testing.assert_allclose(np.degrees(shape.angle) % 180, [90.0], atol=1e-6)
    assert shape.centre[0, 0] == pytest.approx(19.5)
    assert 15.0 < shape.centre[0, 1] < 15.5
