"""How well the label-free flight window serves the gravity sampler.

    python benchmarks/bench_flight_window.py sample_data

Per clip: the free-fall window found from the background-difference track against the true
take-off and first water contact, and the IoU of the proposal boxes with the ground-truth boxes.
Then, over 20 000 sampled quads, the fraction whose four frames all lie in the true flight (where
Eq. 9 holds) and, of those flagged descending, the fraction truly past the apex (where Eq. 10
holds), with the window against uniform sampling over the clip.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from divekit.config import preset
from divekit.data import load_clip
from divekit.gravity import clip_prior
from divekit.inference import boxes_to_pixels
from divekit.sampling import GravitySampler
from divekit.truth import BOX_PAD_M, box_iou, truth_boxes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--pad-m", type=float, default=BOX_PAD_M)
    args = parser.parse_args()
    size = preset("small").frame_size
    clips, priors, truth = [], [], []
    print(f"{'clip':<12}{'take-off':>9}{'found':>8}{'entry':>8}{'found':>8}{'proposal IoU>=0.5':>19}")
    for video in sorted(args.folder.glob("clip*.mp4")):
        meta = json.loads(video.with_suffix(".json").read_text())
        clip = load_clip(video, size)
        prior = clip_prior(clip)
        boxes, flight = truth_boxes(video, args.pad_m)
        prop = boxes_to_pixels(prior.proposals, clip.size)
        ok = prior.valid & flight
        score = (box_iou(prop[ok], boxes[ok]) >= 0.5).sum() / max(flight.sum(), 1)
        w = prior.window
        print(
            f"{video.stem:<12}{meta['takeoff_time_s']:>9.3f}{(w.t_start if w else np.nan):>8.3f}"
            f"{meta['entry_time_s']:>8.3f}{(w.t_end if w else np.nan):>8.3f}{score:>19.1%}"
        )
        g = 9.81
        apex = meta["takeoff_time_s"] + meta["takeoff_velocity_m_s"][1] / g
        clips.append(clip)
        priors.append(prior)
        truth.append((meta["takeoff_time_s"], meta["entry_time_s"], apex))

    for use in (True, False):
        sampler = GravitySampler(
            [c.times for c in clips], [p.window for p in priors], batch=20_000, seed=0, use_windows=use
        )
        b = sampler.sample()
        t0 = np.array([truth[c][0] for c in b.clip])
        t1 = np.array([truth[c][1] for c in b.clip])
        apex = np.array([truth[c][2] for c in b.clip])
        in_true = (b.times[:, 0] >= t0) & (b.times[:, 3] <= t1)
        past_apex = in_true & (b.times[:, 0] >= apex)
        name = "flight window" if use else "uniform"
        print(f"\n{name}: quads fully in the true flight {in_true.mean():.1%}")
        if use:
            print(
                f"  quads flagged in flight: {b.in_flight.mean():.1%}, of which truly in flight "
                f"{in_true[b.in_flight].mean():.1%}"
            )
            print(
                f"  quads flagged descending: {b.descending.mean():.1%}, of which truly past the apex "
                f"{past_apex[b.descending].mean():.1%}"
            )


if __name__ == "__main__":
    main()
