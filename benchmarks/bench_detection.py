"""Detection accuracy against training time, with and without the gravity prior (issue: DiveNet).

    python benchmarks/bench_detection.py sample_data --minutes 10 --out benchmarks/results/detection

Trains the ``small`` DiveNet's gravity stage on the training divers' clips of ``sample_data``
(splits.json) and, every ``--every`` minutes of *training* wall time (evaluation time excluded),
measures on the held-out diver's clips the fraction of in-flight frames whose box has IoU >= 0.5
(and 0.3, 0.7) with the ground-truth box. Ground truth: the tight box around the projected
joints, padded on every side by ``--pad-m`` metres (default 0.12 m, ``divekit.truth.BOX_PAD_M``, about the
half-thickness of head and trunk, since joints are centres) converted with the clip's metres-per-pixel.

Arms: ``gravity`` (the default objective), ``no-gravity`` (reconstruction only, ``--no-gravity``),
the ablations ``track-only`` (tracking losses, no proposals) and ``proposals-only`` (proposals,
no tracking losses), and ``gravity-noenergy`` / ``no-gravity-noenergy``: the first two with a
detector whose heatmap is purely learned (``detector_energy = false``), which the proposals also
teach their attention (``gravity.attention_loss``). ``gravity-attention`` and
``gravity-noenergy-noattention`` switch that term on and off against its default;
``proposals-only-noenergy`` is the learned heatmap with proposals and no tracking losses.
Writes curves.csv, curves.png and prints the curves and a time-to-level table: when each arm first
has 25/50/75/90 % of the flight frames at each IoU level, and the no-prior arm's time over the
prior's. Arms may run in separate processes (side by side, or with different budgets); then

    python benchmarks/bench_detection.py sample_data --table A/curves.csv B/curves.csv

prints the table of both.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from divekit.background import background_path, estimate_background, save_png
from divekit.config import LossConfig, preset
from divekit.data import load_clip
from divekit.gravity import GravityConfig, build_trainer, clip_prior
from divekit.inference import boxes_to_pixels, predict_boxes
from divekit.training import Callback, TrainConfig
from divekit.truth import BOX_PAD_M, box_iou, truth_boxes
from divekit.video import VideoReader

ARMS = {
    "gravity": dict(),
    "no-gravity": dict(use_gravity=False),
    "track-only": dict(proposal_weight=0.0),
    "proposals-only": dict(gamma=0.0),
    "gravity-gamma0.1": dict(gamma=0.1),
    "gravity-gamma1": dict(gamma=1.0),  # the paper's γ
    # the same without the detector's background-difference term: a purely learned heatmap
    "gravity-noenergy": dict(model=dict(detector_energy=False)),
    "no-gravity-noenergy": dict(use_gravity=False, model=dict(detector_energy=False)),
    # gravity.attention_loss against its default: on for the energy detector, off for the learned heatmap
    "gravity-attention": dict(attention_weight=1.0),
    "gravity-noenergy-noattention": dict(attention_weight=0.0, model=dict(detector_energy=False)),
    "proposals-only-noenergy": dict(gamma=0.0, model=dict(detector_energy=False)),
}
LEVELS = (0.3, 0.5, 0.7)


def estimated_backgrounds(videos: list[Path], out: Path) -> Path:
    """Estimate every clip's background as a user would (``divekit background``'s auto rule)."""
    folder = out / "backgrounds"
    folder.mkdir(parents=True, exist_ok=True)
    for video in videos:
        target = background_path(video, folder)
        if not target.exists():
            save_png(estimate_background(VideoReader(video), "auto")[0], target)
    return folder


class Evaluator(Callback):
    def __init__(self, model, clips, truths, every_s: float, budget_s: float, arm: str):
        self.model, self.clips, self.truths = model, clips, truths
        self.every_s, self.budget_s, self.arm = every_s, budget_s, arm
        self.next_s = 0.0
        self.rows: list[dict] = []

    def evaluate(self, step: int, elapsed_s: float) -> None:
        scores = []
        for clip, (boxes, flight) in zip(self.clips, self.truths, strict=True):
            pred = boxes_to_pixels(predict_boxes(self.model, clip), clip.size)
            scores.append(box_iou(pred[flight], boxes[flight]))
        s = np.concatenate(scores)
        row = {"arm": self.arm, "step": step, "minutes": elapsed_s / 60, "mean_iou": float(s.mean())}
        row.update({f"iou>={level}": float((s >= level).mean()) for level in LEVELS})
        self.rows.append(row)
        print(
            f"  {self.arm:<15} step {step:>5}  {elapsed_s / 60:5.2f} min  mean IoU {row['mean_iou']:.3f}  "
            + "  ".join(f">={lv}: {row[f'iou>={lv}']:.1%}" for lv in LEVELS),
            flush=True,
        )

    def on_start(self, step, total_steps):
        self.evaluate(step, 0.0)
        self.next_s = self.every_s

    def on_step(self, report):
        if report.elapsed_s >= self.next_s or report.elapsed_s >= self.budget_s:
            self.evaluate(report.step, report.elapsed_s)
            self.next_s += self.every_s
        if report.elapsed_s >= self.budget_s:
            raise TimeUp


class TimeUp(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=1.0, help="minutes between evaluations")
    parser.add_argument("--arms", default="gravity,no-gravity")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pad-m", type=float, default=BOX_PAD_M)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/detection"))
    parser.add_argument(
        "--true-backgrounds", action="store_true", help="use the renderer's true backgrounds instead of estimating"
    )
    parser.add_argument(
        "--table", type=Path, nargs="+", metavar="CURVES_CSV",
        help="only print the time-to-level table of earlier runs' curves.csv (arms run in separate processes)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.table:
        print(reach_table(pd.concat([pd.read_csv(p) for p in args.table], ignore_index=True)))
        return

    splits = json.loads((args.folder / "splits.json").read_text())
    model_cfg = preset("small")
    train_videos = [args.folder / f"{stem}.mp4" for stem in splits["train"]]
    test_videos = [args.folder / f"{stem}.mp4" for stem in splits["heldout"]]
    print(
        f"train: {len(train_videos)} clips, held-out diver: {len(test_videos)} clips; torch threads "
        f"{torch.get_num_threads()}"
    )
    backgrounds = None if args.true_backgrounds else estimated_backgrounds(train_videos + test_videos, args.out)
    train_clips = [load_clip(v, model_cfg.frame_size, background_dir=backgrounds) for v in train_videos]
    test_clips = [load_clip(v, model_cfg.frame_size, background_dir=backgrounds) for v in test_videos]
    truths = [truth_boxes(v, args.pad_m) for v in test_videos]
    priors = [clip_prior(c) for c in train_clips]
    found = sum(p.window is not None for p in priors)
    print(f"free fall found in {found}/{len(priors)} training clips")

    rows = []
    for arm in args.arms.split(","):
        knobs = dict(ARMS[arm])
        model_cfg = preset("small", **knobs.pop("model", {}))
        loss_cfg = LossConfig(**({"gamma": knobs.pop("gamma")} if "gamma" in knobs else {}))
        gravity_cfg = GravityConfig(**knobs)
        train_cfg = TrainConfig(steps=10**6, batch=args.batch, seed=args.seed, checkpoint_every=10**9)
        budget = args.minutes * 60
        probe = build_trainer(
            train_clips,
            priors,
            args.out / arm,
            model_cfg=model_cfg,
            loss_cfg=loss_cfg,
            train_cfg=replace(train_cfg, steps=3),
            gravity_cfg=gravity_cfg,
        )
        t0 = time.perf_counter()
        probe.sampler.sample()
        for step in range(3):
            terms = probe.objective(probe.sampler.sample(), step)
            terms["total"].backward()
        per_step = (time.perf_counter() - t0) / 3
        planned = int(budget / per_step)
        print(f"{arm}: {per_step:.3f} s/step -> about {planned} steps in {args.minutes:g} min")
        trainer = build_trainer(
            train_clips,
            priors,
            args.out / arm,
            model_cfg=model_cfg,
            loss_cfg=loss_cfg,
            train_cfg=train_cfg,
            gravity_cfg=gravity_cfg,
        )
        evaluator = Evaluator(trainer.model, test_clips, truths, args.every * 60, budget, arm)
        trainer.callbacks = [evaluator]
        try:
            trainer.fit()
        except TimeUp:
            pass
        rows += evaluator.rows

    args.out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "curves.csv", index=False)
    plot(df, args.out / "curves.png")
    print()
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print()
    print(reach_table(df))


def reach_table(df: pd.DataFrame, fractions=(0.25, 0.5, 0.75, 0.9)) -> str:
    """When each arm first has ``fraction`` of the flight frames at IoU >= level, in minutes and steps;
    with two arms, the second's time over the first's ("> x" when the second never got there in its run)."""
    arms = list(dict.fromkeys(df["arm"]))
    budget = {arm: df.loc[df["arm"] == arm, "minutes"].max() for arm in arms}
    header = f"{'IoU':>5} {'frames':>7} " + "".join(f"{a:>28}" for a in arms)
    lines = [header + (f"{'ratio':>12}" if len(arms) == 2 else "")]
    for level in LEVELS:
        for target in fractions:
            first = {}
            for arm in arms:
                hit = df[(df["arm"] == arm) & (df[f"iou>={level}"] >= target)].sort_values("minutes")
                first[arm] = (float(hit["minutes"].iloc[0]), int(hit["step"].iloc[0])) if len(hit) else None
            cells = [
                f"{first[a][0]:.1f} min ({first[a][1]} steps)" if first[a] else f"not in {budget[a]:.0f} min"
                for a in arms
            ]
            line = f"{level:>5} {target:>7.0%} " + "".join(f"{c:>28}" for c in cells)
            if len(arms) == 2:
                line += f"{_ratio(first[arms[0]], first[arms[1]], budget[arms[1]]):>12}"
            lines.append(line)
    return "\n".join(lines)


def _ratio(fast: tuple[float, int] | None, slow: tuple[float, int] | None, slow_budget: float) -> str:
    if fast is None:
        return "-"
    if fast[0] == 0:
        return "1.0x" if slow is not None and slow[0] == 0 else "-"
    return f"{slow[0] / fast[0]:.1f}x" if slow is not None else f"> {slow_budget / fast[0]:.1f}x"


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, d in df.groupby("arm"):
        ax.plot(d["minutes"], d["iou>=0.5"] * 100, "o-", label=arm)
    ax.axhline(90, color="gray", ls=":", lw=1)
    ax.set_xlabel("training wall-clock minutes (2-core CPU)")
    ax.set_ylabel("held-out in-flight frames with IoU >= 0.5 (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
