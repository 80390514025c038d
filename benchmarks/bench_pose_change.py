"""How fast the pose changes in the training clips: the paper's Fig. 6, in frames and in seconds.

DSL (Eq. 5) assumes that the pose moves little within ``d_pos`` frames and much beyond ``d_neg``. For
every pair of in-flight frames of each training clip (``splits.json``), the mean distance between
their pelvis-centred 3D poses (mm, from the truth), binned by the time between them, and by the
number of frames between them for each frame rate in the set. Labels only: no model is run.

    python benchmarks/bench_pose_change.py sample_data
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from divekit.labels import read_labels
from divekit.trainrun import pose_targets

BIN_S = 0.05
FRAME_STEPS = (1, 2, 3, 5, 10, 15, 20, 30, 40)


def clip_pairs(poses: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every pair i < j of frames: the time between them (s), the frames between them, and the
    mean joint distance of their poses (mm). ``poses`` (N, 13, 3) m, ``times`` (N,) s."""
    i, j = np.triu_indices(len(times), k=1)
    dt = times[j] - times[i]
    frames = j - i
    mm = 1000 * np.linalg.norm(poses[i] - poses[j], axis=-1).mean(-1)
    return dt, frames, mm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with clips, their truth and splits.json")
    parser.add_argument("--out", type=Path, help="write the curves here as JSON")
    args = parser.parse_args()
    names = json.loads((args.data / "splits.json").read_text())["train"]
    labels = read_labels([args.data / f"{n}.truth.csv" for n in names])
    by_time: dict[int, list[float]] = defaultdict(list)
    by_frames: dict[tuple[int, int], list[float]] = defaultdict(list)  # (rounded rate or -1, frames apart)
    for name in names:
        meta = json.loads((args.data / f"{name}.json").read_text())
        times = pd.read_csv(args.data / f"{name}.truth.csv").groupby("frame").time_s.first()
        lab = labels[name]
        flying = np.asarray(meta["in_flight"], dtype=bool)[lab.frames]
        dt, frames, mm = clip_pairs(pose_targets(lab)[flying], times.loc[lab.frames].to_numpy()[flying])
        rate = round(meta["fps"]) if not meta["variable_fps"] else -1  # -1: the variable-rate clips
        for b, f, d in zip((dt / BIN_S).astype(int), frames, mm, strict=True):
            by_time[int(b)].append(float(d))
            by_frames[(rate, int(f))].append(float(d))
    curves = {
        "seconds": {f"{b * BIN_S:.2f}": round(float(np.mean(v)), 1) for b, v in sorted(by_time.items())},
        "frames": {
            ("variable" if rate < 0 else f"{rate} fps"): {
                str(f): round(float(np.mean(by_frames[(rate, f)])), 1) for f in FRAME_STEPS if (rate, f) in by_frames
            }
            for rate in sorted({r for r, _ in by_frames})
        },
    }
    print("mean pose distance (mm) of two in-flight frames of one training clip")
    print("by the time between them (bins of 50 ms):")
    for start, mm in curves["seconds"].items():
        print(f"  {start} s  {mm:6.0f}")
    print("by the frames between them:  " + "".join(f"{f:>6}" for f in FRAME_STEPS))
    for rate, row in curves["frames"].items():
        print(f"  {rate:<26}" + "".join(f"{row.get(str(f), float('nan')):6.0f}" for f in FRAME_STEPS))
    if args.out:
        args.out.write_text(json.dumps(curves, indent=2))


if __name__ == "__main__":
    main()
