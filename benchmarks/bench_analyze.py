"""`divekit analyze` against truth, and its speed and memory.

Accuracy: every clip of the given folders (defaults: the held-out diver's sample clips, and new
clips rendered with another seed, some at a variable frame rate) is analysed with the given model
(default: the one shipped in the package); each figure is compared with the clip's ground truth
(``<clip>.json``, ``<clip>.truth.csv``).

Speed: frames/s of the whole per-frame pipeline (decode + detector + encoder + Φ + silhouette axis)
on the first clip, and the seconds of the whole report on it (+ take-off frames, figures, plots,
files); peak memory (max RSS of a fresh process running the whole report) for that clip repeated
1x, 4x and 16x.

    python benchmarks/bench_analyze.py --new-clips 10 --seed 777 9001 --out benchmarks/results/analyze
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from peak_memory import peak_rss_mb

from divekit.analyze import analyze_video, load_model, track_video
from divekit.labels import read_labels
from divekit.metrics import pose_report
from divekit.video import VideoReader, VideoWriter

SAMPLE = Path("sample_data")
ERROR_KEYS = ("mpp_err_pct", "flight_err_frames", "takeoff_err_frames", "entry_err_frames", "apex_err_cm",
              "entry_speed_err_pct", "somersault_err_turns", "twist_err_turns", "n_mpjpe_mm", "mpjpe_mm")  # fmt: skip
# the targets: |error| within these
TARGETS = {"mpp_err_pct": 3.0, "flight_err_frames": 1.0, "somersault_err_turns": 0.25}
FORWARD = {"forward": 1, "inward": 1, "back": -1, "backward": -1, "reverse": -1}


def heldout_clips(data: Path) -> list[Path]:
    splits = json.loads((data / "splits.json").read_text())
    return [data / f"{name}.mp4" for name in splits["heldout"]]


def render_new(
    folder: Path, count: int, seed: int, fps: float | None = None, size: tuple[int, int] | None = None
) -> list[Path]:
    subprocess.run(
        [sys.executable, "-m", "divekit", "synth", str(folder), "--clips", str(count), "--seed", str(seed),
         "--divers", "4,5", *(["--fps", str(fps)] if fps else []),
         *(["--width", str(size[0]), "--height", str(size[1])] if size else [])],
        check=True, capture_output=True,
    )  # fmt: skip
    return sorted(folder.glob("*.mp4"))


def compare(video: Path, report_dir: Path, model, name: str) -> dict:
    truth = json.loads(video.with_suffix(".json").read_text())
    report = analyze_video(model, name, video, report_dir)
    s = report.summary
    dt = float(np.median(np.diff(VideoReader(video).timestamps)))
    dive = truth["dive"]
    row = {
        "clip": video.stem,
        "vfr": truth["variable_fps"],
        "dive": dive["name"],
        "flight_found": s["flight_found"],
    }
    if not s["flight_found"]:
        return row
    true_flight = truth["entry_time_s"] - truth["takeoff_time_s"]
    pred = pd.read_csv(report_dir / "frames.csv")
    labels = read_labels([video.with_suffix(".truth.csv")])[video.stem]
    joints = pred[[c for c in pred.columns if c[-2:] in ("_x", "_y", "_z")]].to_numpy().reshape(len(pred), 13, 3)
    poses = pose_report(joints[labels.frames], labels.xyz)
    sign = FORWARD.get(dive["direction"], 1)

    def err(key, true, scale=1.0):
        return None if s.get(key) is None else (s[key] - true) * scale

    row.update(
        mpp_err_pct=err("metres_per_pixel", truth["metres_per_pixel"], 100 / truth["metres_per_pixel"]),
        flight_err_frames=err("flight_time_s", true_flight, 1 / dt),
        takeoff_err_frames=err("takeoff_time_s", truth["takeoff_time_s"], 1 / dt),
        entry_err_frames=err("entry_time_s", truth["entry_time_s"], 1 / dt),
        takeoff_source=s.get("takeoff_source"),
        entry_source=s.get("entry_source"),
        apex_err_cm=err("apex_height_m", truth["apex_height_m"], 100),
        entry_speed_err_pct=err("entry_speed_mps", truth["entry_speed_m_s"], 100 / truth["entry_speed_m_s"]),
        somersault_err_turns=err("somersaults", dive["somersaults"]),
        direction_ok=s.get("somersault_direction") == ("forward" if sign > 0 else "backward"),
        twist_err_turns=None if s.get("twists") is None else abs(s["twists"]) - dive["twists"],
        position_ok=s.get("position") == dive["position"],
        n_mpjpe_mm=poses["n_mpjpe_mm"],
        mpjpe_mm=poses["mpjpe_mm"],
    )
    return row


def speed(model, video: Path, repeats: int = 3) -> dict:
    reader = VideoReader(video)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        track_video(model, video)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in reader.iter_batches(64):
        pass
    decode = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as out:  # the whole command: + take-off frames, figures, plots, files
        t0 = time.perf_counter()
        analyze_video(model, "bench", video, Path(out) / "report")
        whole = time.perf_counter() - t0
    return {
        "clip": video.name,
        "size": f"{reader.info.source_width}x{reader.info.source_height}",
        "frames": len(reader),
        "analyze_fps": round(len(reader) / best, 1),
        "analyze_with_report_s": round(whole, 2),
        "decode_only_fps": round(len(reader) / decode, 1),
    }


def repeated(video: Path, times: int, out: Path) -> Path:
    """``video`` played ``times`` times in a row, with continuing timestamps."""
    reader = VideoReader(video)
    period = reader.timestamps[-1] + float(np.median(np.diff(reader.timestamps)))
    with VideoWriter(out, reader.info.width, reader.info.height) as writer:
        for k in range(times):
            for _, frames, ts in reader.iter_batches(64):
                for frame, t in zip(frames, ts, strict=True):
                    writer.write(frame, k * period + t)
    return out


MEMORY_CHILD = f"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from peak_memory import peak_rss_mb
from divekit.commands import main
video, model = Path(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as out:
    sys.argv = ['divekit', 'analyze', str(video), '-o', out + '/r'] + ([] if model == '-' else ['--model', model])
    try:
        main()
    except SystemExit as done:
        if done.code:
            raise
    frames = json.loads((Path(out) / 'r' / video.stem / 'summary.json').read_text())['frames']
print(frames, peak_rss_mb())
"""


def peak_rss(video: Path, model_arg: str) -> tuple[int, float]:
    """(frames, peak RSS in MB) of the whole ``divekit analyze`` command on ``video``, in a process of
    its own."""
    child = [sys.executable, "-c", MEMORY_CHILD, str(video), model_arg]
    frames, peak = subprocess.run(child, check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
    return int(frames), round(float(peak), 1)


def memory(video: Path, model_arg: str, factors=(1, 4, 16)) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for factor in factors:
            clip = repeated(video, factor, Path(tmp) / f"x{factor}.mp4")
            background_png = video.with_suffix("").with_suffix(".background.png")
            if background_png.exists():
                (Path(tmp) / f"x{factor}.background.png").write_bytes(background_png.read_bytes())
            frames, peak = peak_rss(clip, model_arg)
            rows.append({"repeat": factor, "frames": frames, "peak_rss_mb": peak})
    return rows


def summarise(rows: list[dict]) -> dict:
    found = [r for r in rows if r["flight_found"]]
    out = {"clips": len(rows), "flight_found": len(found)}
    for key in ERROR_KEYS:
        values = np.array([r[key] for r in found if r.get(key) is not None], dtype=float)
        if len(values):
            out[key] = {
                "median_abs": round(float(np.median(np.abs(values))), 3),
                "max_abs": round(float(np.max(np.abs(values))), 3),
                "n": len(values),
            }
            if key in TARGETS:
                out[key]["within_target"] = int((np.abs(values) <= TARGETS[key]).sum())
    out["takeoff_from_feet"] = sum(r.get("takeoff_source") == "feet" for r in found)
    out["entry_from_splash"] = sum(r.get("entry_source") == "splash" for r in found)
    out["position_correct"] = sum(bool(r.get("position_ok")) for r in found)
    out["direction_correct"] = sum(bool(r.get("direction_ok")) for r in found)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="train run or model.pt (default: the shipped one)")
    parser.add_argument("--data", type=Path, default=SAMPLE)
    parser.add_argument("--new-clips", type=int, default=10)
    parser.add_argument("--seed", type=int, nargs="+", default=[777], help="one set of new clips per seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/analyze"))
    parser.add_argument("--fps", type=float, help="render the new clips at this fixed rate (a high-speed camera)")
    parser.add_argument(
        "--size", type=lambda s: tuple(int(v) for v in s.split("x")), help="render the new clips at WxH (e.g. 512x256)"
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--speed-clips", type=Path, nargs="+", default=[], help="also time analyze on these videos")
    parser.add_argument("--only", choices=("accuracy", "speed"), help="run one half (speed wants a quiet machine)")
    args = parser.parse_args()
    model, _, name = load_model(args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "model": name}
    clips = heldout_clips(args.data)
    if args.only != "speed":
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            sets = {"heldout": clips}
            for seed in args.seed if args.new_clips else []:
                label = f"new_seed{seed}" + (f"_{args.fps:g}fps" if args.fps else "")
                label += f"_{args.size[0]}x{args.size[1]}" if args.size else ""
                sets[label] = render_new(tmp / f"new{seed}", args.new_clips, seed, args.fps, args.size)
            for label, videos in sets.items():
                rows = [compare(v, tmp / "reports" / label / v.stem, model, name) for v in videos]
                results[label] = {"summary": summarise(rows), "clips": rows}
                print(json.dumps({label: results[label]["summary"]}), file=sys.stderr)
    if args.only != "accuracy":
        results["speed"] = speed(model, clips[0])
        print(json.dumps(results["speed"]), file=sys.stderr)
        if args.speed_clips:
            results["speed_more"] = [speed(model, video) for video in args.speed_clips]
            for row, video in zip(results["speed_more"], args.speed_clips, strict=True):
                row["peak_rss_mb"] = peak_rss(video, str(args.model) if args.model else "-")[1]
        if not args.skip_memory:
            results["memory"] = memory(clips[0], str(args.model) if args.model else "-")
            print(json.dumps(results["memory"]), file=sys.stderr)
    results["peak_rss_this_process_mb"] = round(peak_rss_mb(), 1)
    name_ = "results.json" if args.only is None else f"results_{args.only}.json"
    (args.out / name_).write_text(json.dumps(results, indent=2, default=str))
    print_tables(results)


def print_tables(results: dict) -> None:
    """The figures as plain tables: accuracy per clip set (median and max |error|), speed, memory."""
    sets = [k for k, v in results.items() if isinstance(v, dict) and "summary" in v]
    if sets:
        print(f"{'error, median (max)':<24}" + "".join(f"{k:>22}" for k in sets))
        for key in ERROR_KEYS:
            cells = []
            for k in sets:
                v = results[k]["summary"].get(key)
                cells.append(f"{v['median_abs']:.3g} ({v['max_abs']:.3g})" if v else "-")
            print(f"{key:<24}" + "".join(f"{c:>22}" for c in cells))
            if key in TARGETS:
                cells = [results[k]["summary"].get(key, {}) for k in sets]
                cells = [f"{c['within_target']}/{c['n']}" if c else "-" for c in cells]
                print(f"{'  within ' + str(TARGETS[key]):<24}" + "".join(f"{c:>22}" for c in cells))
        counted = ("clips", "flight_found", "takeoff_from_feet", "entry_from_splash")
        counted += ("position_correct", "direction_correct")
        for key in counted:
            print(f"{key:<24}" + "".join(f"{results[k]['summary'].get(key, '-'):>22}" for k in sets))
    if "speed" in results:
        print(
            f"\n{'clip':<16}{'size':>10}{'frames':>8}{'analyze fps':>13}{'decode fps':>12}{'with report s':>15}"
            f"{'peak RSS MB':>13}"
        )
        for sp in [results["speed"], *results.get("speed_more", [])]:
            print(
                f"{sp['clip']:<16}{sp['size']:>10}{sp['frames']:>8}{sp['analyze_fps']:>13}{sp['decode_only_fps']:>12}"
                f"{sp['analyze_with_report_s']:>15}{sp.get('peak_rss_mb', '-'):>13}"
            )
    if "memory" in results:
        print(f"\n{'repeat':>6}{'frames':>8}{'peak RSS MB':>13}")
        for row in results["memory"]:
            print(f"{row['repeat']:>6}{row['frames']:>8}{row['peak_rss_mb']:>13}")


if __name__ == "__main__":
    main()
