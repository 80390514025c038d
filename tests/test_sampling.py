import numpy as np

from divekit.sampling import GravitySampler, Window


def variable_times(n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([[0.0], np.cumsum(rng.choice([1 / 30, 1 / 60], n - 1))])


def test_quads_are_equidistant_in_time_within_one_frame():
    t = variable_times()
    sampler = GravitySampler([t], [None], batch=64, seed=1)
    batch = sampler.sample()
    assert batch.frames.shape == (64, 4) and batch.times.shape == (64, 4)
    assert (np.diff(batch.frames, axis=1) > 0).all()
    gaps = np.diff(batch.times, axis=1)
    # nearest-frame snapping moves each frame by at most half the longest frame interval
    assert (np.abs(gaps - gaps.mean(axis=1, keepdims=True)) <= 1 / 30 + 1e-9).all()


def test_quads_stay_inside_the_flight_window_and_flag_the_descent():
    t = variable_times()
    window = Window(t_start=0.8, t_end=2.4, apex=1.2)
    batch = GravitySampler([t], [window], batch=200, seed=2).sample()
    assert batch.in_flight.mean() > 0.9
    inside = batch.times[batch.in_flight]
    assert (inside >= 0.8).all() and (inside <= 2.4).all()
    assert (batch.times[batch.descending][:, 0] >= 1.2).all()
    assert batch.descending.any() and (~batch.descending & batch.in_flight).any()


def test_without_windows_quads_cover_the_clip_and_are_never_in_flight():
    t = variable_times()
    batch = GravitySampler([t], [Window(0.8, 2.4, 1.2)], batch=200, seed=3, use_windows=False).sample()
    assert not batch.in_flight.any() and not batch.descending.any()
    assert batch.times.min() < 0.5 and batch.times.max() > 2.6


def test_state_dict_resumes_the_same_draws():
    t = [variable_times(seed=s) for s in range(3)]
    a = GravitySampler(t, [None] * 3, batch=8, seed=5)
    a.sample()
    state = a.state_dict()
    expected = a.sample()
    b = GravitySampler(t, [None] * 3, batch=8, seed=99)
    b.load_state_dict(state)
    got = b.sample()
    np.testing.assert_array_equal(got.frames, expected.frames)
    np.testing.assert_array_equal(got.clip, expected.clip)


def test_short_clip_gives_four_distinct_frames():
    t = np.arange(4) / 30
    batch = GravitySampler([t], [None], batch=10, seed=0).sample()
    assert (batch.frames == np.arange(4)).all()
