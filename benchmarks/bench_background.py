"""Background error per method against the renderer's true empty scene.

    python benchmarks/bench_background.py sample_data

For every ``<clip>.mp4`` with a ``<clip>.background.png`` (written by ``divekit synth``), estimates
the background with each method and prints the mean absolute error in 0-255 over all pixels.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from divekit.background import estimate_background, load_png, mean_absolute_error
from divekit.video import VideoReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()

    methods = ("median", "split", "auto")
    rows = []
    for video in sorted(args.folder.glob("*.mp4")):
        truth_png = video.with_name(f"{video.stem}.background.png")
        if not truth_png.exists():
            continue
        truth = load_png(truth_png)
        reader = VideoReader(video)
        row = {"clip": video.stem, "frames": len(reader)}
        for method in methods:
            t0 = time.perf_counter()
            image, used = estimate_background(reader, method)
            row[method] = mean_absolute_error(image, truth)
            row[f"{method}_s"] = time.perf_counter() - t0
            if method == "auto":
                row["auto_used"] = used
        rows.append(row)
    if not rows:
        raise SystemExit(f"no <clip>.mp4 with <clip>.background.png in {args.folder}")

    print(f"{'clip':<14}{'frames':>7}{'median':>9}{'split':>9}{'auto':>9}  auto uses")
    for r in rows:
        print(
            f"{r['clip']:<14}{r['frames']:>7}{r['median']:>9.2f}{r['split']:>9.2f}{r['auto']:>9.2f}  {r['auto_used']}"
        )
    print(f"{'mean':<14}{'':>7}" + "".join(f"{np.mean([r[m] for r in rows]):>9.2f}" for m in methods))
    print(f"{'max':<14}{'':>7}" + "".join(f"{np.max([r[m] for r in rows]):>9.2f}" for m in methods))
    print("seconds per clip: " + ", ".join(f"{m} {np.mean([r[m + '_s'] for r in rows]):.2f}" for m in methods))


if __name__ == "__main__":
    main()
