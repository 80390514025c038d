"""Reader timestamps against the renderer's truth, for every clip (variable frame rates included).

    python benchmarks/bench_timestamps.py sample_data

Prints, per clip, the largest difference between ``VideoReader.timestamps`` and the ``time_s`` of
``<clip>.truth.csv``, and what ``index / nominal fps`` would have been off by.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from divekit.video import VideoReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    print(f"{'clip':<14}{'vfr':>5}{'frames':>8}{'reader max err (ms)':>21}{'index/fps max err (ms)':>24}")
    worst = {True: 0.0, False: 0.0}
    for video in sorted(args.folder.glob("*.mp4")):
        truth_csv = video.with_name(f"{video.stem}.truth.csv")
        if not truth_csv.exists():
            continue
        meta = json.loads(video.with_suffix(".json").read_text())
        truth = pd.read_csv(truth_csv).groupby("frame")["time_s"].first().to_numpy()
        reader = VideoReader(video)
        err = np.abs(reader.timestamps - truth).max() * 1e3
        naive = np.abs(np.arange(len(reader)) / reader.info.nominal_fps - truth).max() * 1e3
        vfr = bool(meta["variable_fps"])
        worst[vfr] = max(worst[vfr], err)
        print(f"{video.stem:<14}{'yes' if vfr else 'no':>5}{len(reader):>8}{err:>21.4f}{naive:>24.1f}")
    print(f"largest reader error: variable-rate clips {worst[True]:.4f} ms, constant-rate {worst[False]:.4f} ms")


if __name__ == "__main__":
    main()
