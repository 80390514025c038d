"""`divekit analyze` on a hand-held camera: still clips made to sway, against truth, with and
without holding the frames still (:mod:`divekit.steady`).

Every clip is moved frame by frame along :func:`divekit.synth.handheld_path` of each amplitude
(px at the clip's size; the path's largest excursion is up to 1.7 times it), cut by that much on
every side and written again as H.264; its truth does not change (the camera's sway moves the
picture, not the dive, and the cut does not scale it). Each swayed
clip is analysed twice: as divekit does, and with the camera taken for still. The camera's path as
measured is compared with the sway applied (both less their median: the path is measured against
the clip's own empty scene).

    python benchmarks/bench_shake.py --sets sample_data runs/r777 runs/r9001 --amplitudes 0 2 5 12
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
from bench_analyze import compare, heldout_clips, summarise

import divekit.analyze
from divekit.analyze import load_model
from divekit.steady import camera_path, moved_back
from divekit.synth import handheld_path
from divekit.video import VideoReader, VideoWriter


def sway(src: Path, dst: Path, amplitude_px: float, seed: int) -> np.ndarray:
    """Write ``src`` moved along a hand-held path to ``dst`` (with its truth); the path (N, 2). The
    frames are cut by the path's reach on every side, so no frame shows the repeated edges of the
    picture moved (a camera shows the scene there)."""
    reader = VideoReader(src)
    times = reader.timestamps
    path = handheld_path(times, amplitude_px, np.random.default_rng(seed))
    m = 2 * (int(np.ceil(np.abs(path).max())) // 2 + 1)  # even, so the frame stays even
    w, h = reader.info.width - 2 * m, reader.info.height - 2 * m
    with VideoWriter(dst, w, h, fps_hint=float(1 / np.median(np.diff(times))), crf=18) as out:
        for idx, frames, t in reader.iter_batches(32):
            for frame, k, when in zip(frames, idx, t, strict=True):
                out.write(moved_back(frame, -path[k], (m, m + w, m, m + h)), float(when))
    for suffix in (".json", ".truth.csv"):
        shutil.copy(src.with_suffix(suffix), dst.with_suffix(suffix))
    return path


def path_error(video: Path, applied: np.ndarray) -> float | None:
    """The 90th percentile of |measured - applied| px over frames and axes (None: taken for still)."""
    measured = camera_path(video)
    if measured is None:
        return None
    err = (measured - np.median(measured, axis=0)) - (applied - np.median(applied, axis=0))
    return float(np.percentile(np.abs(err), 90))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", type=Path, default=[Path("sample_data")],
                    help="folders of rendered clips (sample_data: its held-out diver only)")  # fmt: skip
    ap.add_argument("--amplitudes", nargs="+", type=float, default=[0.0, 2.0, 5.0, 12.0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/shake"))
    args = ap.parse_args()

    def clips_of(folder: Path) -> list[Path]:
        return heldout_clips(folder) if (folder / "splits.json").exists() else sorted(folder.glob("*.mp4"))

    clips = [c for s in args.sets for c in clips_of(s)]
    model, _, name = load_model(None)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for amp in args.amplitudes:
            rows = {"steadied": [], "taken for still": []}
            errors, sways = [], []
            for i, clip in enumerate(clips):
                swayed = Path(tmp) / f"{clip.parent.name}_{clip.name}"
                applied = sway(clip, swayed, amp, seed=i)
                sways.append(float(np.hypot(*(applied - np.median(applied, axis=0)).T).max()))
                errors.append(path_error(swayed, applied))
                rows["steadied"].append(compare(swayed, Path(tmp) / "report", model, name))
                with mock.patch.object(divekit.analyze, "camera_path", lambda _: None):
                    rows["taken for still"].append(compare(swayed, Path(tmp) / "report", model, name))
                print(f"{amp:g} px {clip.parent.name}/{clip.stem}: path error {errors[-1]}", flush=True)
            still = [e is None for e in errors]
            found = [e for e in errors if e is not None]
            results[f"{amp:g}"] = {
                "largest_sway_px": round(float(np.median(sways)), 2),
                "taken_for_still": int(sum(still)),
                "path_error_p90_px": round(float(np.median(found)), 3) if found else None,
                **{mode: summarise(r) for mode, r in rows.items()},
                "rows": rows,
            }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print_table(results)


def print_table(results: dict) -> None:
    columns = ("sway amplitude (px)", "largest sway, median (px)", "camera taken for still", "path error p90 (px)",
               "mode", "flight found", "scale within 3 %", "flight within 1 frame", "somersaults within 0.25",
               "apex, median abs (cm)")  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for amp, r in results.items():
        for mode in ("steadied", "taken for still"):
            s = r[mode]

            def within(key, s=s):
                return f"{s[key]['within_target']}/{s['clips']}" if key in s else f"0/{s['clips']}"

            cells = (amp, r["largest_sway_px"], f"{r['taken_for_still']}/{s['clips']}", r["path_error_p90_px"], mode,
                     f"{s['flight_found']}/{s['clips']}", within("mpp_err_pct"), within("flight_err_frames"),
                     within("somersault_err_turns"), s.get("apex_err_cm", {}).get("median_abs"))  # fmt: skip
            print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
