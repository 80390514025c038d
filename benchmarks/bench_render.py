"""Synthetic renderer speed on one CPU core at 256x512: render only, then render + encode.

python benchmarks/bench_render.py [--clips 3] [--width 256] [--height 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from divekit.synth import _frames, _plan, dataset_specs, render_clip

    specs = dataset_specs(args.clips, args.seed, width=args.width, height=args.height)
    rows = []
    frames = plan_s = render_s = 0.0
    for _, spec in specs:
        t = time.perf_counter()
        clip = _plan(spec)
        plan_s += time.perf_counter() - t
        t = time.perf_counter()
        for _ in _frames(clip):
            frames += 1
        render_s += time.perf_counter() - t
    rows.append(("plan (per clip)", f"{plan_s / len(specs) * 1000:.0f} ms", ""))
    rows.append(("render only", f"{frames / render_s:.1f} frames/s", f"{int(frames)} frames"))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        size = 0
        for name, spec in specs:
            paths = render_clip(spec, Path(tmp), name)
            size += paths[0].stat().st_size
        total = time.perf_counter() - t
    rows.append(("render + encode + files", f"{frames / total:.1f} frames/s", f"{int(frames)} frames"))
    rows.append(("mp4 size", f"{size / frames / 1024:.1f} KiB/frame", f"{size / 1e6:.2f} MB"))
    width = max(len(r[0]) for r in rows)
    print(f"one core, {args.width}x{args.height}, {len(specs)} clips")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>18}  {note}")


if __name__ == "__main__":
    main()
