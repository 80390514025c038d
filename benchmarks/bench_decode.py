"""Decode-only speed and memory of ``divekit.video.VideoReader``.

    python benchmarks/bench_decode.py sample_data

Every clip in the folder, then one 4x longer clip (the first clip four times over, re-encoded
with ``VideoWriter``, timestamps continuing), is opened and streamed in batches of 32 frames at
its own size, ``--repeat`` times (the fastest pass is reported). Each clip runs in a fresh process,
so the peak RSS (VmHWM, :func:`peak_memory.peak_rss_mb`: python, numpy, decord and the frames in
flight) is that clip's own; the first row is a process that imports the same and decodes nothing, to subtract.
Prints one table:

    clip, frames, size, open s, decode s (wall), cpu s, frames/s (decode only), peak RSS MB
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import peak_rss_mb

BATCH = 32


def measure(path: str | None, threads: int, repeat: int) -> dict:
    """In this (fresh) process: open and stream every frame ``repeat`` times; the fastest pass, peak RSS."""
    import decord  # noqa: F401  (in the baseline too: its libraries are part of every reader's RSS)
    import numpy as np

    from divekit.video import VideoReader

    best = {"frames": 0, "size": "", "open_s": 0.0, "decode_s": 0.0, "cpu_s": 0.0}
    for _ in range(repeat if path is not None else 0):
        t0 = time.perf_counter()
        reader = VideoReader(path, threads=threads)
        t1, c1 = time.perf_counter(), time.process_time()
        count = 0
        for _, frames, _ in reader.iter_batches(BATCH):
            np.asarray(frames[:, ::64, ::64]).sum()  # touch the frames
            count += len(frames)
        run = {
            "frames": count,
            "size": f"{reader.info.width}x{reader.info.height}",
            "open_s": t1 - t0,
            "decode_s": time.perf_counter() - t1,
            "cpu_s": time.process_time() - c1,
        }
        if not best["frames"] or run["decode_s"] < best["decode_s"]:
            best = run
        del reader
    best["rss_mb"] = peak_rss_mb()
    return best


def run_child(path: Path | None, threads: int, repeat: int) -> dict:
    args = [sys.executable, __file__, "--child", str(path) if path else "-", "--threads", str(threads)]
    args += ["--repeat", str(repeat)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def make_long_clip(source: Path, target: Path, repeat: int = 4) -> Path:
    """``source`` ``repeat`` times in one file, re-encoded; times continue across the joins."""
    from divekit.video import VideoReader, VideoWriter

    reader = VideoReader(source)
    times = reader.timestamps - reader.timestamps[0]
    period = reader.info.duration_s  # first frame's start to last frame's end
    with VideoWriter(target, reader.info.width, reader.info.height, fps_hint=reader.info.nominal_fps) as writer:
        for k in range(repeat):
            for idx, frames, _ in reader.iter_batches(BATCH):
                for i, frame in zip(idx, frames, strict=True):
                    writer.write(frame, float(times[i] + k * period))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, nargs="?")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads (0: FFmpeg's choice, the default)")
    parser.add_argument("--repeat", type=int, default=3, help="passes per clip; the fastest is reported")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(None if args.child == "-" else args.child, args.threads, args.repeat)))
        return
    if args.folder is None:
        parser.error("give the folder of clips, e.g. sample_data")
    clips = sorted(args.folder.glob("*.mp4"))
    if not clips:
        parser.error(f"no .mp4 in {args.folder}")

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'clip':<22}{'frames':>7}{'size':>9}{'open s':>8}{'decode s':>10}{'cpu s':>8}{'frames/s':>10}", end="")
    print(f"{'RSS MB':>8}")

    def row(name: str, r: dict) -> None:
        fps = r["frames"] / r["decode_s"] if r["decode_s"] else 0.0
        print(
            f"{name:<22}{r['frames']:>7}{r['size']:>9}{r['open_s']:>8.3f}{r['decode_s']:>10.3f}"
            f"{r['cpu_s']:>8.3f}{fps:>10.0f}{r['rss_mb']:>8.0f}"
        )

    row("(imports only)", run_child(None, args.threads, args.repeat))
    total = {"frames": 0, "decode_s": 0.0, "cpu_s": 0.0, "open_s": 0.0, "rss": 0.0}
    for clip in clips:
        r = run_child(clip, args.threads, args.repeat)
        row(clip.name, r)
        for key in ("frames", "decode_s", "cpu_s", "open_s"):
            total[key] += r[key]
        total["rss"] = max(total["rss"], r["rss_mb"])
    all_clips = {**total, "size": "", "rss_mb": total["rss"]}
    row(f"all {len(clips)} clips", all_clips)
    with tempfile.TemporaryDirectory() as tmp:
        long = make_long_clip(clips[0], Path(tmp) / f"{clips[0].stem}_x4.mp4")
        row(long.name, run_child(long, args.threads, args.repeat))


if __name__ == "__main__":
    main()
