"""Samplers: which frames go into a training step. Each owns a seeded generator (checkpointed).

DSL tuples (paper §3.1.2) for `divekit train` are drawn by :class:`TupleSampler`, below.

Gravity quads (paper §3.2): four frames of one clip, equidistant in *time* (from the timestamps,
so variable frame rates work), with a random stride.

Only the flight obeys constant acceleration, and only its descent obeys the order loss. Nothing
labels those phases, so the sampler is told them by :func:`divekit.motion.flight_from_track`: a
robust free-fall fit of the background-difference track, whose longest parabolic run is the
flight. Quads are drawn inside it; each quad carries flags saying whether all four frames are in
the fitted flight and whether they are past its apex, and the losses use only what holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from divekit.calibration.freefall import FreeFallFit


@dataclass(frozen=True)
class Window:
    """Where a clip's frames obey free fall: [t_start, t_end] seconds, apex at ``apex``."""

    t_start: float
    t_end: float
    apex: float

    @classmethod
    def from_fit(cls, fit: FreeFallFit) -> Window:
        return cls(fit.t_start, fit.t_end, fit.apex_time)


@dataclass
class QuadBatch:
    clip: np.ndarray  # (B,) clip index
    frames: np.ndarray  # (B, 4) frame indices, increasing in time
    times: np.ndarray  # (B, 4) seconds
    in_flight: np.ndarray  # (B,) bool: all four frames inside the clip's free-fall window
    descending: np.ndarray  # (B,) bool: in flight and past the apex (order loss applies)


class GravitySampler:
    """Draws ``batch`` quads per call from clips given by their frame times.

    ``windows[i]`` is clip i's free-fall window or None (then quads come from the whole clip and
    carry ``in_flight = False``). ``stride_s`` bounds the time between consecutive frames.
    """

    def __init__(
        self,
        times: list[np.ndarray],
        windows: list[Window | None],
        *,
        batch: int,
        stride_s: tuple[float, float] = (0.03, 0.2),
        seed: int = 0,
        use_windows: bool = True,
    ):
        assert len(times) == len(windows) and batch > 0 and 0 < stride_s[0] <= stride_s[1]
        self.times = [np.asarray(t, dtype=np.float64) for t in times]
        self.windows = windows if use_windows else [None] * len(windows)
        self.batch = batch
        self.stride_s = stride_s
        self.rng = np.random.default_rng(seed)
        self._weights = np.array([len(t) for t in self.times], dtype=np.float64)
        self._weights /= self._weights.sum()

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]

    def _quad(self, clip: int) -> tuple[np.ndarray, bool, bool]:
        t = self.times[clip]
        window = self.windows[clip]
        lo, hi = (window.t_start, window.t_end) if window else (t[0], t[-1])
        span = hi - lo
        if span <= 0:
            lo, hi, span, window = t[0], t[-1], t[-1] - t[0], None
        stride = self.rng.uniform(*self.stride_s)
        stride = min(stride, span / 3)
        start = self.rng.uniform(lo, hi - 3 * stride)
        targets = start + stride * np.arange(4)
        idx = np.clip(np.searchsorted(t, targets), 1, len(t) - 1)
        idx -= (targets - t[idx - 1]) < (t[idx] - targets)  # nearest frame
        idx = np.maximum.accumulate(idx)
        for k in range(1, 4):  # four distinct frames, even when the stride is below a frame
            if idx[k] <= idx[k - 1]:
                idx[k] = idx[k - 1] + 1
        if idx[-1] >= len(t):
            idx = idx - (idx[-1] - (len(t) - 1))
        in_flight = window is not None and t[idx[0]] >= window.t_start and t[idx[-1]] <= window.t_end
        descending = in_flight and t[idx[0]] >= window.apex
        return idx, in_flight, descending

    def sample(self) -> QuadBatch:
        clips = self.rng.choice(len(self.times), size=self.batch, p=self._weights)
        quads = [self._quad(int(c)) for c in clips]
        frames = np.stack([q[0] for q in quads])
        return QuadBatch(
            clip=clips,
            frames=frames,
            times=np.stack([self.times[c][f] for c, f in zip(clips, frames, strict=True)]),
            in_flight=np.array([q[1] for q in quads]),
            descending=np.array([q[2] for q in quads]),
        )


@dataclass
class TupleBatch:
    """DSL tuples (paper §3.1.2): per row a reference, a near, an intermediate and a far frame."""

    clip: np.ndarray  # (B,) clip index
    frames: np.ndarray  # (B, 4) frame indices: reference, near, intermediate, far
    distance: np.ndarray  # (B, 3) |t - t_ref| of near, intermediate, far, in frames of the clip's median interval
    seed: int  # for the batch's random augmentation (jitter, ti swap), so a resumed run redraws it exactly


class TupleSampler:
    """Draws ``batch`` tuples per call, all four frames of a tuple from one clip, chosen by time.

    Distances are in frames of the clip's median frame interval, so a variable frame rate does
    not change what "3 frames" means: near is within ``d_pos`` of the reference, far at least
    ``d_neg`` away, the intermediate strictly between near and far in time (paper S.1: diving
    d_pos = 3, d_neg = 20). Near and intermediate are taken on the far frame's side of the
    reference. A clip shorter than ``d_neg`` frames gives its farthest frame as "far".
    ``ref_pools[i]``, when given, restricts clip i's reference frames (e.g. to labelled ones).
    """

    def __init__(
        self,
        times: list[np.ndarray],
        *,
        batch: int,
        d_pos: float = 3.0,
        d_neg: float = 20.0,
        seed: int = 0,
        ref_pools: list[np.ndarray | None] | None = None,
    ):
        assert batch > 0 and 0 < d_pos < d_neg, (batch, d_pos, d_neg)
        assert all(len(t) >= 4 for t in times), "every clip needs at least four frames"
        self.times = [np.asarray(t, dtype=np.float64) for t in times]
        self.dt = [float(np.median(np.diff(t))) for t in self.times]
        self.batch, self.d_pos, self.d_neg = batch, float(d_pos), float(d_neg)
        self.ref_pools = ref_pools or [None] * len(times)
        self.rng = np.random.default_rng(seed)
        pool_sizes = [len(t) if p is None else len(p) for t, p in zip(self.times, self.ref_pools, strict=True)]
        self._weights = np.asarray(pool_sizes, dtype=np.float64)
        assert self._weights.sum() > 0, "no reference frames to draw from"
        self._weights /= self._weights.sum()

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]

    def _tuple(self, clip: int) -> tuple[np.ndarray, np.ndarray]:
        t, dt, pool = self.times[clip], self.dt[clip], self.ref_pools[clip]
        ref = int(self.rng.choice(pool)) if pool is not None else int(self.rng.integers(len(t)))
        d = (t - t[ref]) / dt  # signed distance of every frame, in frames
        far_ok = np.flatnonzero(np.abs(d) >= self.d_neg)
        if len(far_ok):
            far = int(self.rng.choice(far_ok))
        else:
            far = int(np.argmax(np.abs(d)))
        side = np.sign(d[far])
        same_side = np.sign(d) == side
        near_ok = np.flatnonzero(same_side & (np.abs(d) > 0) & (np.abs(d) <= self.d_pos))
        if not len(near_ok):  # the reference sits at the clip's end: take the nearest other frame
            near_ok = np.flatnonzero(same_side & (np.abs(d) > 0))[:1] if side > 0 else np.array([ref - 1])
        near = int(self.rng.choice(near_ok))
        lo, hi = sorted((abs(d[near]), abs(d[far])))
        inter_ok = np.flatnonzero(same_side & (np.abs(d) > lo) & (np.abs(d) < hi))
        inter = int(self.rng.choice(inter_ok)) if len(inter_ok) else near
        frames = np.array([ref, near, inter, far])
        return frames, np.abs(d[frames[1:]])

    def sample(self) -> TupleBatch:
        clips = self.rng.choice(len(self.times), size=self.batch, p=self._weights)
        rows = [self._tuple(int(c)) for c in clips]
        return TupleBatch(
            clip=clips,
            frames=np.stack([r[0] for r in rows]),
            distance=np.stack([r[1] for r in rows]),
            seed=int(self.rng.integers(2**62)),
        )
