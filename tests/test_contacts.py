"""Take-off from the feet on the board, entry from the box's lower edge and from the splash (divekit.contacts)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from divekit.calibration.freefall import FreeFallFit
from divekit.contacts import (
    back_along,
    body_bottom,
    crossing_time,
    diver_pixels,
    entry_frames,
    entry_from_bottom,
    feet_takeoff,
    joined_diver_pixels,
    splash_entry,
    splash_pixels,
    takeoff_frames,
)

FPS, T0 = 60.0, 0.5
V_UP, ACC = 300.0, 490.0  # px/s up at take-off, px/s² down
SURFACE = 59  # the lowest row the standing diver covers; the board starts below it


def fall(t: np.ndarray) -> np.ndarray:
    """Rise of the body above its standing position (px) at times t: 0 until T0, then ballistic."""
    s = np.maximum(np.asarray(t, dtype=np.float64) - T0, 0.0)
    return V_UP * s - 0.5 * ACC * s**2


def free_fall_fit(t: np.ndarray, y_centre_standing: float = 40.0) -> FreeFallFit:
    flying = t >= T0
    return FreeFallFit(
        t0=T0, y0=y_centre_standing, v0=-V_UP, acc=ACC, acc_std=0.0, t_start=float(t[flying][0]),
        t_end=float(t[-1]), inliers=flying, rmse_px=0.0,
    )  # fmt: skip


def board_scene(t: np.ndarray, *, h: int = 100, w: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Frames (N, h, w, 3) of a grey board (rows > SURFACE) and a bright 11-px-wide diver standing on
    it (rows 20..SURFACE), who rises by fall(t); and the diver's boxes (N, 4)."""
    frames = np.full((len(t), h, w, 3), 90, dtype=np.uint8)
    frames[:, SURFACE + 1 : SURFACE + 11] = 60  # the board
    boxes = np.zeros((len(t), 4))
    for k, rise in enumerate(fall(t)):
        top, bottom = 20 - rise, SURFACE - rise  # rows covered: top..bottom (inclusive, floored)
        rows = np.arange(h)
        covered = (rows >= np.floor(top)) & (rows <= np.floor(bottom))
        frames[k][covered, 35:46] = 230
        boxes[k] = (40.5, (top + bottom + 1) / 2, 11.0, bottom + 1 - top)
    return frames, boxes


def board_takeoff():
    """The board scene at FPS for 1.6 s, its fit and what feet_takeoff reads: t, frames, boxes, fit, where."""
    t = np.arange(0, 1.6, 1 / FPS)
    frames, boxes = board_scene(t)
    fit = free_fall_fit(t)
    return t, frames, boxes, fit, takeoff_frames(t, boxes, fit, (80, 100))


def test_crossing_time_and_back_along_by_hand():
    t = np.array([0.0, 0.1, 0.2, 0.3])
    y = np.array([0.0, 10.0, 20.0, 30.0])
    # walking back from the last sample: 15 is crossed between 0.1 and 0.2, halfway
    assert crossing_time(t, y, 15.0, 3, -1) == pytest.approx(0.15)
    assert crossing_time(t, y, 99.0, 3, -1) is None
    fit = free_fall_fit(np.arange(0, 1, 1 / FPS))
    # the centre moves up at 300 px/s at T0: 3 px higher takes t with 300 t - 245 t² = 3 -> t = 0.0101...
    rise_t = (V_UP - np.sqrt(V_UP**2 - 4 * 0.5 * ACC * 3.0)) / ACC
    assert back_along(fit, T0 + rise_t, 3.0, -1) == pytest.approx(T0, abs=1e-9)


def test_feet_takeoff_dates_the_toes_leaving_the_board_within_a_frame():
    t, frames, boxes, fit, where = board_takeoff()
    assert where is not None and where.standing.sum() >= 3
    # the feet region: around the standing box's lower edge (row 60, box 40 px high), 0.6 box widths
    # either side of its centre
    assert where.region == (int(40.5 - 6.6), int(40.5 + 6.6 + 1), int(60 - 12), int(60 + 12 + 1))
    # the reference: the first frame past the window whose box is above the region
    clear = boxes[:, 1] + boxes[:, 3] / 2 < 48
    assert where.reference == np.flatnonzero(clear & (t >= fit.t_start + 0.4))[0]
    k = where.frames
    when, why = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    assert why == ""
    # By hand: the toes fill the 3 rows above the board (33 px) until T0; one frame later the body
    # has risen 4.93 px and none remain. The count falls below 20 % (6.6 px) 80 % of the way through
    # that frame, T0 + 0.8/60 = T0 + 13.3 ms, dated back by the 1.5 px the body rose meanwhile
    # (5.0 ms at 300 px/s): T0 + 8.3 ms, half a frame late (the price of counting whole rows).
    rise_t = (V_UP - np.sqrt(V_UP**2 - 4 * 0.5 * ACC * 1.5)) / ACC
    assert when == pytest.approx(T0 + 0.8 / FPS - rise_t, abs=2e-4)
    assert abs(when - T0) < 1 / FPS


def test_joined_diver_pixels_by_hand():
    # One 8x8 frame of differences; the full threshold is 25 and the lower one 16 (median and MAD are 0).
    diff = np.zeros((2, 8, 8), dtype=np.int16)
    diff[0, 1, 1:4] = 100  # a 3-px strong blob: a seed
    diff[0, 2, 4] = 20  # weak, touching the blob diagonally: joined
    diff[0, 3, 5] = 20  # weak, touching that one: joined through it
    diff[0, 6, 0] = 20  # weak and alone: not the diver
    diff[0, 5, 6:8] = 100  # a 2-px strong speck: counted, but too small to be a seed ...
    diff[0, 6, 6:8] = 20  # ... so its weak halo is not
    diff[1, 2, 4] = 20  # weak, next to frame 0's blob but in another frame: not joined
    diff[1, 4, 4] = 15  # below the lower floor
    on = joined_diver_pixels(diff, diver_pixels(diff))
    expected = np.zeros_like(on)
    expected[0, 1, 1:4] = expected[0, 2, 4] = expected[0, 3, 5] = True
    expected[0, 5, 6:8] = True
    np.testing.assert_array_equal(on, expected)


def test_feet_takeoff_follows_a_foot_that_fades_against_the_board():
    # The toes stand out while the diver stands; in the last 3 frames on the board (the last at T0)
    # the pointed foot differs from the board by only 20 grey levels (under the full threshold of
    # 25, over the lower floor of 16), still joined to the bright leg above. Counted with the full
    # threshold alone they would leave 3 frames early; joined, take-off is dated as with a bright foot.
    t, frames, boxes, fit, where = board_takeoff()
    k = where.frames
    bright_when, _ = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    fading = np.abs(t - (T0 - 1 / FPS)) < 1.01 / FPS  # T0 - 2/FPS, T0 - 1/FPS and T0
    toes = frames[:, SURFACE - 3 : SURFACE + 1, 35:46]
    toes[fading] = np.where(toes[fading] == 230, 110, toes[fading])  # background 90: a difference of 20
    when, why = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    assert why == "" and when == pytest.approx(bright_when, abs=1e-9)
    # a speck of 2 strong pixels in a weak halo on the board after take-off is not a foot
    speck = np.flatnonzero(t >= T0 + 10 / FPS)[0]
    frames[speck, SURFACE - 2 : SURFACE + 1, 37:43] = 110
    frames[speck, SURFACE, 39:41] = 230
    when, _ = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    assert when == pytest.approx(bright_when, abs=1e-9)


def test_body_bottom_by_hand():
    # legs (rows 0-9, 6 px each), a 1-px ankle (10-11), the feet after 3 empty rows (15-17), a lone
    # pixel (18), then 6 empty rows and a 17-px line the codec redrew (25): the legs and feet's run
    # holds 60 + 2 + 15 + 1 = 78 px, the line 17; its lowest row of at least 2 px is 17
    counts = np.zeros(27, dtype=int)
    counts[0:10], counts[10:12], counts[15:18], counts[18], counts[25] = 6, 1, 5, 1, 17
    assert body_bottom(counts) == 17
    # a bigger blob far below wins: it is what the frame shows most of
    counts[25] = 80
    assert body_bottom(counts) == 25
    # 5 empty rows do not part it: one run
    counts[25], counts[24] = 0, 17
    assert body_bottom(counts) == 24


def test_feet_takeoff_ignores_a_stale_line_below_the_board():
    # A row of the region below the board that the codec left stale (40 grey levels off the empty-board
    # frame) until 3 frames after take-off, apart from the diver by 10 empty rows. As the lowest row
    # covered it was taken for the board's surface, and take-off was dated when the line was redrawn.
    t, frames, boxes, fit, where = board_takeoff()
    k = where.frames
    bright_when, _ = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    stale = t < T0 + 3 / FPS
    frames[stale, SURFACE + 11, 34:48] = 130
    when, why = feet_takeoff(frames[k], frames[where.reference], t[k], where, fit)
    assert why == "" and when == pytest.approx(bright_when, abs=1e-9)


def test_feet_takeoff_says_why_it_cannot_tell():
    t, frames, boxes, fit, where = board_takeoff()
    k = where.frames
    # a "reference" that shows the diver standing: nothing differs at the feet
    when, why = feet_takeoff(frames[k], frames[0], t[k], where, fit)
    assert when is None and "no feet" in why
    # frames that end before the feet leave
    stay = k[t[k] < T0]
    part = replace(where, frames=stay, standing=where.standing[: len(stay)])
    when, why = feet_takeoff(frames[stay], frames[where.reference], t[stay], part, fit)
    assert when is None and "do not leave" in why
    # nothing to read: no box before take-off, a clip that ends within the window (no empty-board
    # frame after it), one whose diver never clears the board, or one that starts in the air
    no_box = boxes.copy()
    no_box[t < T0] = np.nan
    assert takeoff_frames(t, no_box, fit, (80, 100)) is None
    assert takeoff_frames(t[t < 0.9], boxes[t < 0.9], fit, (80, 100)) is None
    low = boxes.copy()
    low[:, 1] = np.maximum(low[:, 1], 40.0)  # a box that never rises above the feet region
    assert takeoff_frames(t, low, fit, (80, 100)) is None
    assert takeoff_frames(t[t > T0 - 0.02], boxes[t > T0 - 0.02], fit, (80, 100)) is None


def test_entry_from_bottom_finds_the_break_between_frames():
    # the lower edge falls along a parabola until TE (between frames), then sinks at 20 px/s
    te = 1.2345
    t = np.arange(0.6, 1.8, 1 / 30)
    falling = 100 + 50 * (t - 0.6) + 0.5 * ACC * (t - 0.6) ** 2
    at_te = 100 + 50 * (te - 0.6) + 0.5 * ACC * (te - 0.6) ** 2
    bottom = np.where(t <= te, falling, at_te + 20 * (t - te))
    fit = free_fall_fit(t)
    fit = FreeFallFit(**{**fit.__dict__, "t_end": float(t[np.searchsorted(t, te) + 3])})  # the run ends late
    assert entry_from_bottom(t, bottom, fit) == pytest.approx(te, abs=1e-3)
    # with 0.5 px of noise, still within a frame
    noisy = bottom + np.random.default_rng(0).normal(0, 0.5, t.shape)
    assert abs(entry_from_bottom(t, noisy, fit) - te) < 1 / 30
    # too few frames after the run's end: no answer
    assert entry_from_bottom(t[t <= fit.t_end + 0.05], bottom[t <= fit.t_end + 0.05], fit) is None


def water_scene(t: np.ndarray, te: float, rate: float, *, h: int = 60, w: int = 40) -> np.ndarray:
    """Frames (N, h, w, 3) of blue water with a bright but coloured diver above it, a fixed white
    highlight, and from ``te`` a splash of ``rate`` white pixels a second (whole pixels, row by row)."""
    frames = np.zeros((len(t), h, w, 3), dtype=np.uint8)
    frames[...] = (40, 110, 150)
    frames[:, 5:8, 30:33] = 250  # a highlight on the water: white, but in every frame
    for k, tk in enumerate(t):
        frames[k, 10:20, 18:22] = (230, 180, 150)  # skin: bright, not grey
        n = int(np.floor(max(0.0, tk - te) * rate + 1e-9))
        flat = frames[k, 30:, :].reshape(-1, 3)
        flat[:n] = (235, 240, 245)
    return frames


def test_splash_pixels_count_new_white_only():
    t = np.arange(0.0, 0.5, 1 / 30)
    frames = water_scene(t, te=0.2, rate=600.0)
    counts = splash_pixels(frames, water_scene(t[:1], te=9.0, rate=0.0)[0])
    # neither the skin (bright but coloured) nor the highlight (white in the background) counts
    assert counts[t < 0.2].tolist() == [0] * int((t < 0.2).sum())
    expected = np.floor(np.maximum(0.0, t - 0.2) * 600.0 + 1e-9)
    np.testing.assert_array_equal(counts, expected)


def test_splash_entry_extrapolates_the_splash_back_to_nothing():
    # Splash from TE = 0.21 s, growing 600 px/s, filmed at 30 fps: its first three frames hold
    # (0.2333 s, 14 px), (0.2667 s, 34 px), (0.3 s, 54 px). The line through them has slope 600 px/s
    # and crosses 0 at 0.2333 - 14/600 = 0.21 s, inside the interval before the first splash frame.
    t = np.arange(0.0, 0.5, 1 / 30)
    frames = water_scene(t, te=0.21, rate=600.0)
    quiet = t < 0.1
    assert splash_pixels(frames, frames[0])[7:10].tolist() == [14, 34, 54]
    when, why = splash_entry(frames, frames[0], t, quiet)
    assert why == "" and when == pytest.approx(0.21, abs=1e-9)
    # a splash seen late (slow growth: 4 px in its first frame) is still dated within the frame before
    slow = water_scene(t, te=0.225, rate=500.0)  # 4, 20, 37 px at 0.2333, 0.2667, 0.3
    when, _ = splash_entry(slow, slow[0], t, quiet)
    assert t[6] <= when <= t[7] and abs(when - 0.225) < 1 / 30
    # no splash at all: no answer, and why
    calm = water_scene(t, te=9.0, rate=600.0)
    assert splash_entry(calm, calm[0], t, quiet) == (None, "no splash seen")


def test_entry_frames_window_and_region():
    t = np.arange(0.0, 2.0, 1 / 30)
    boxes = np.tile([50.0, 100.0, 10.0, 40.0], (len(t), 1))
    where = entry_frames(t, boxes, 1.0, (200, 300))
    assert where is not None
    assert np.all(np.abs(t[where.frames] - 1.0) <= 0.3)
    np.testing.assert_array_equal(where.quiet, t[where.frames] < 1.0 - 0.15)
    # 1.25 boxes either side of the centre
    assert where.region == (int(50 - 12.5), int(50 + 12.5 + 1), int(100 - 50), int(100 + 50 + 1))
    # too close to the clip's end: not enough frames after the provisional entry
    assert entry_frames(t, boxes, t[-2], (200, 300)) is None
