"""Paper Tables 4-5 on the sample data: N-MPJPE on the held-out diver by variant and label fraction.

Every variant starts from the same pretrain-gravity run and trains its self-supervised stage for
the same wall-clock time on this machine, on the training divers' clips only (the held-out
diver's clips are never seen, labelled or not). Then Φ (the default regressor) is fitted on every
K-th labelled frame of the training clips, for each label fraction, and evaluated on every frame
of the held-out clips. The gravity initialisation itself, with no self-supervised stage, is
reported as a reference row.

Also the disentanglement check of paper §4.4.3 on the ``ours`` model: KMeans on ti and on tv of
the in-flight frames of all clips against diver identity (accuracy after the best one-to-one
matching of clusters to divers), and Φ fitted on ti instead of tv. For reference, KMeans on the
colour histogram of the box's foreground pixels (:func:`colour_codes`): how far the divers'
looks alone separate them. ``--ti-contrast`` sets the weight of the ti contrast (§3.1.3, point 3),
``--decorrelate`` that of the latent's decorrelation (:func:`divekit.selfsup.decorrelation_loss`).
Each row also gives the effective rank of Φ's input on the held-out clips; ``--keep DIR`` saves
each trained DiveNet for ``bench_tv_probe.py``.

    python benchmarks/bench_pose.py --init runs/grav --minutes 5 --out benchmarks/results/pose
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from scipy.optimize import linear_sum_assignment

from divekit.config import LossConfig, ModelConfig
from divekit.data import load_clip
from divekit.labels import every_kth, read_labels
from divekit.metrics import pose_report
from divekit.pose import PoseConfig, clip_codes, fit_regressor, predict_poses
from divekit.selfsup import VARIANTS, SelfSupConfig, Variant
from divekit.training import TrainConfig
from divekit.trainrun import TrainSettings, build_selfsup_trainer, load_init, pose_targets

FRACTIONS = (0.05, 0.2, 1.0)


def train_for(trainer, seconds: float, chunk: int = 25) -> None:
    """Run the engine in chunks of steps until its own step clock passes ``seconds``."""
    while trainer.elapsed_s < seconds:
        trainer.cfg = replace(trainer.cfg, steps=trainer.step + chunk)
        trainer.fit()


def identity_accuracy(features: np.ndarray, identity: np.ndarray, seed: int = 0) -> float:
    """KMeans (k = number of identities) on standardised features; accuracy after Hungarian matching."""
    x = (features - features.mean(0)) / (features.std(0) + 1e-6)
    k = len(np.unique(identity))
    best, best_distortion = 0.0, np.inf
    for attempt in range(5):  # KMeans restarts; keep the lowest-distortion clustering's accuracy
        centroids, labels = kmeans2(x, k, seed=seed + attempt, minit="++")
        distortion = ((x - centroids[labels]) ** 2).sum()
        if distortion < best_distortion:
            best_distortion = distortion
            ids = np.unique(identity)
            table = np.array([[np.sum((labels == c) & (identity == i)) for i in ids] for c in range(k)])
            rows, cols = linear_sum_assignment(-table)
            best = table[rows, cols].sum() / len(identity)
    return float(best)


def colour_codes(clip, boxes: np.ndarray, bins: int = 8) -> np.ndarray:
    """(N, 3·bins) per frame: the histogram of each colour channel over the pixels of the frame's box
    (``boxes`` (N, 4) in affine_grid form, widened by a tenth on each side) that differ from the
    background, the diver's colours. KMeans on these is what a time-invariant code that held the
    diver's appearance and nothing else could reach."""
    from divekit.inference import boxes_to_pixels
    from divekit.motion import SILHOUETTE_FLOOR, box_window, colour_difference, foreground_threshold

    h, w = clip.background.shape[:2]
    out = np.zeros((len(clip), 3 * bins))
    for lo in range(0, len(clip), 64):
        frames = clip.frames[lo : lo + 64]
        diff = colour_difference(frames, clip.background)
        thr = foreground_threshold(diff[:, ::4, ::4], SILHOUETTE_FLOOR)
        for k, box in enumerate(boxes_to_pixels(boxes[lo : lo + 64], (w, h))):
            x0, x1, y0, y1 = box_window(box, (w, h), 0.1)
            pixels = frames[k, y0:y1, x0:x1][diff[k, y0:y1, x0:x1] > thr]
            if len(pixels):
                hist = [np.histogram(pixels[:, c], bins=bins, range=(0, 256))[0] for c in range(3)]
                out[lo + k] = np.concatenate(hist) / len(pixels)
    return out


@torch.no_grad()
def latents(net, clip) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, tv), (N, ti) and the (N, 4) boxes of every frame of ``clip`` (eval mode, plain crops), in one pass."""
    from divekit.inference import frames_to_tensor

    net.eval()
    background = frames_to_tensor(clip.background[None])
    tv, ti, boxes = [], [], []
    for lo in range(0, len(clip), 64):
        frames = frames_to_tensor(clip.frames[lo : lo + 64])
        box = net.detect(frames, background.expand(len(frames), -1, -1, -1))
        a, b = net.encode(net.crop(frames, box))
        tv.append(a)
        ti.append(b)
        boxes.append(box)
    return torch.cat(tv).numpy(), torch.cat(ti).numpy(), torch.cat(boxes).double().numpy()


def effective_rank(x: np.ndarray) -> float:
    """exp of the entropy of the normalised squared singular values of centred (N, D) features
    (Roy & Vetterli 2007): how many dimensions they really use; D when all are used equally."""
    s = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    p = s / s.sum()
    return float(np.exp(-(p * np.log(np.where(p > 0, p, 1.0))).sum()))


def evaluate_fractions(train_codes, heldout_codes, table, train_names, heldout_names, pose_cfg) -> dict:
    out = {}
    for fraction in FRACTIONS:
        subsets = {k: every_kth(table[k], fraction) for k in train_names}
        x = np.concatenate([train_codes[k][v.frames] for k, v in subsets.items()])
        y = np.concatenate([pose_targets(v) for v in subsets.values()])
        t0 = time.perf_counter()
        phi, _ = fit_regressor(x, y, pose_cfg)
        fit_s = time.perf_counter() - t0
        pred = np.concatenate([predict_poses(phi, heldout_codes[k])[table[k].frames] for k in heldout_names])
        gt = np.concatenate([pose_targets(table[k]) for k in heldout_names])
        report = pose_report(pred, gt)
        out[str(fraction)] = {
            "labelled_frames": len(x),
            "n_mpjpe_mm": report["n_mpjpe_mm"],
            "mpjpe_mm": report["mpjpe_mm"],
            "p_mpjpe_mm": report["p_mpjpe_mm"],
            "phi_fit_s": round(fit_s, 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=Path, required=True, help="pretrain-gravity run trained on the training split")
    parser.add_argument("--data", type=Path, default=Path("sample_data"))
    parser.add_argument("--minutes", type=float, default=5.0, help="self-supervised training time per variant")
    parser.add_argument(
        "--variants", default="init,ours,css,ae,nosplit", help="rows to measure; init = the gravity run as it is"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the self-supervised stage and of Φ")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pose"))
    parser.add_argument("--pose-steps", type=int, default=PoseConfig.steps)
    parser.add_argument(
        "--ti-contrast", type=float, default=SelfSupConfig.ti_contrast, help="weight of the ti contrast, relative to α"
    )
    parser.add_argument(
        "--decorrelate",
        type=float,
        default=SelfSupConfig.decorrelate,
        help="weight of the latent's decorrelation, relative to α (0: none)",
    )
    parser.add_argument("--keep", type=Path, help="also save each variant's trained DiveNet weights here, as NAME.pt")
    args = parser.parse_args()
    rows = args.variants.split(",")
    if unknown := [n for n in rows if n not in ("init", *VARIANTS)]:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from init, {', '.join(VARIANTS)}")
    torch.set_num_threads(max(1, torch.get_num_threads()))

    splits = json.loads((args.data / "splits.json").read_text())
    init_record, weights = load_init(args.init)
    model_cfg = ModelConfig.from_dict(init_record["model"])
    loss_cfg = LossConfig.from_dict(init_record["loss"])
    print(f"loading {len(splits['train'])} training and {len(splits['heldout'])} held-out clips", file=sys.stderr)
    train_clips = [load_clip(args.data / f"{n}.mp4", model_cfg.frame_size) for n in splits["train"]]
    heldout_clips = [load_clip(args.data / f"{n}.mp4", model_cfg.frame_size) for n in splits["heldout"]]
    table = read_labels([args.data])
    pose_cfg = PoseConfig(steps=args.pose_steps, seed=args.seed)
    meta = {n: json.loads((args.data / f"{n}.json").read_text()) for n in splits["train"] + splits["heldout"]}

    results: dict = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.processor() or 'cpu'}",
        "minutes_per_variant": args.minutes,
        "pose": {"regressor": pose_cfg.regressor, "steps": pose_cfg.steps},
        "ti_contrast": args.ti_contrast,
        "decorrelate": args.decorrelate,
        "seed": args.seed,
        "variants": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name in rows:
        variant = "ours" if name == "init" else name
        settings = TrainSettings(
            model_cfg,
            loss_cfg,
            TrainConfig(steps=1, seed=args.seed, checkpoint_every=10**9, log_every=25),
            SelfSupConfig(variant=variant, ti_contrast=args.ti_contrast, decorrelate=args.decorrelate),
            pose_cfg,
            init=weights,
        )
        with tempfile.TemporaryDirectory() as tmp:
            trainer = build_selfsup_trainer(train_clips, Path(tmp), settings)
            if name != "init":
                print(f"{name}: self-supervised training for {args.minutes} min", file=sys.stderr)
                train_for(trainer, args.minutes * 60)
        net = trainer.model.net
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model_cfg.to_dict(), "state": net.state_dict()}, args.keep / f"{name}.pt")
        v = Variant.named(variant)
        train_codes = {c.name: clip_codes(net, None, c, v).latent for c in train_clips}
        heldout_codes = {c.name: clip_codes(net, None, c, v).latent for c in heldout_clips}
        row = {
            "steps": trainer.step,
            "elapsed_s": round(trainer.elapsed_s, 1),
            "effective_rank_heldout": round(effective_rank(np.concatenate(list(heldout_codes.values()))), 2),
            "fractions": evaluate_fractions(
                train_codes, heldout_codes, table, splits["train"], splits["heldout"], pose_cfg
            ),
        }
        if name == "ours":
            codes = {clip.name: latents(net, clip) for clip in train_clips + heldout_clips}  # (tv, ti, boxes)
            tv, ti, colours, identity = [], [], [], []
            for clip in train_clips + heldout_clips:
                a, b, boxes = codes[clip.name]
                flight = np.asarray(meta[clip.name]["in_flight"], dtype=bool)
                tv.append(a[flight])
                ti.append(b[flight])
                colours.append(colour_codes(clip, boxes)[flight])
                identity.append(np.full(flight.sum(), meta[clip.name]["diver"]["id"]))
            tv, ti, colours, identity = (np.concatenate(x) for x in (tv, ti, colours, identity))
            ti_codes_train = {c.name: codes[c.name][1] for c in train_clips}
            ti_codes_held = {c.name: codes[c.name][1] for c in heldout_clips}
            row["disentanglement"] = {
                "frames": len(identity),
                "divers": int(len(np.unique(identity))),
                "kmeans_identity_accuracy_ti": round(identity_accuracy(ti, identity), 3),
                "kmeans_identity_accuracy_tv": round(identity_accuracy(tv, identity), 3),
                "kmeans_identity_accuracy_colours": round(identity_accuracy(colours, identity), 3),
                "phi_on_ti": evaluate_fractions(
                    ti_codes_train, ti_codes_held, table, splits["train"], splits["heldout"], pose_cfg
                )["1.0"],
            }
        results["variants"][name] = row
        print(json.dumps({name: row}), file=sys.stderr)
        (args.out / "results.json").write_text(json.dumps(results, indent=2))

    lines = [
        f"N-MPJPE (mm) on the held-out diver, {args.minutes:g} min of self-supervised training per variant",
        "| variant | steps | " + " | ".join(f"{f:.0%} labels" for f in FRACTIONS) + " |",
        "|---|---|" + "---|" * len(FRACTIONS),
    ]
    for name, row in results["variants"].items():
        cells = " | ".join(f"{row['fractions'][str(f)]['n_mpjpe_mm']:.1f}" for f in FRACTIONS)
        lines.append(f"| {name} | {row['steps']} | {cells} |")
    if "ours" in results["variants"] and "disentanglement" in results["variants"]["ours"]:
        d = results["variants"]["ours"]["disentanglement"]
        lines.append(
            f"\nKMeans vs diver identity ({d['frames']} in-flight frames, {d['divers']} divers): "
            f"ti {d['kmeans_identity_accuracy_ti']:.1%}, tv {d['kmeans_identity_accuracy_tv']:.1%}, "
            f"the box's colour histogram {d['kmeans_identity_accuracy_colours']:.1%}; "
            f"Φ on ti at 100 %: N-MPJPE {d['phi_on_ti']['n_mpjpe_mm']:.1f} mm"
        )
    text = "\n".join(lines)
    (args.out / "table.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
