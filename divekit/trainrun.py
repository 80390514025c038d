"""`divekit train`: the self-supervised stage from a pretrain-gravity run, then Φ from few labels.

Data flow: clips -> DiveNet initialised from ``--init`` -> tuple batches through the shared
training engine (:mod:`divekit.selfsup`) -> frozen latents -> Φ fitted on every K-th labelled
frame of the training videos (:mod:`divekit.pose`) -> ``model.pt`` (what ``analyze`` runs),
``poses.csv`` for every frame of every input, ``metrics.json`` on the validation videos,
``boxes.csv`` and plots.

Validation videos are the labelled inputs named by ``--val``; else those listed as "heldout" in a
``splits.json`` beside the inputs (``divekit synth --heldout-diver`` writes one); else the last
fifth of the labelled videos by name (at least one when two or more are labelled). Φ never sees
their labels; the self-supervised stage uses every input, labelled or not, as a coach would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from divekit import __version__, distributed
from divekit.checkpoint import load_checkpoint
from divekit.config import LossConfig, ModelConfig
from divekit.data import Clip, check_memory, load_clip
from divekit.errors import DivekitError
from divekit.features import build_feature_extractor
from divekit.inference import boxes_dataframe
from divekit.io import atomic_path, write_json_atomic
from divekit.labels import VideoLabels, check_frames, every_kth, poses_dataframe, read_labels, video_stem
from divekit.metrics import pelvis_centred, pose_report
from divekit.model import DiveNet
from divekit.plots import plot_losses, plot_swap
from divekit.pose import (
    PoseConfig,
    PoseModel,
    clip_codes,
    fit_regressor,
    predict_poses,
    save_pose_model,
)
from divekit.sampling import TupleSampler
from divekit.selfsup import SelfSupConfig, SelfSupModel, SelfSupObjective, Theta, Variant
from divekit.skeleton import steady_size
from divekit.training import Callback, TrainConfig, Trainer, set_seed

TRAIN_STAGE = "train"
MODEL_NAME = "model.pt"


@dataclass
class TrainSettings:
    model: ModelConfig
    loss: LossConfig
    train: TrainConfig
    selfsup: SelfSupConfig
    pose: PoseConfig
    init: dict[str, Any] = field(default_factory=dict)  # the gravity run's DiveNet weights
    resumed: dict[str, Any] = field(default_factory=dict)  # the record of the run being resumed


def load_init(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record, DiveNet weights) of a ``pretrain-gravity`` run folder or checkpoint."""
    try:
        record, state = load_checkpoint(path)
    except DivekitError as exc:
        raise DivekitError(f"--init: {exc}") from None
    if record.get("stage") != "gravity":
        raise DivekitError(f"--init {path} is a {record.get('stage')!r} run; it must be a pretrain-gravity run")
    return record, state["model"]


def validation_videos(videos: Sequence[Path], labelled: Sequence[str], val: Sequence[str] | None) -> list[str]:
    """Names (stems) of the labelled videos Φ is evaluated on and never trained on (see module doc)."""
    labelled = sorted(labelled)
    if val:
        stems = [video_stem(v) for v in val]
        missing = [s for s in stems if s not in labelled]
        if missing:
            raise DivekitError(f"--val {', '.join(missing)}: not among the labelled videos")
        return stems
    for folder in dict.fromkeys(Path(v).parent for v in videos):
        splits = folder / "splits.json"
        if splits.is_file():
            try:
                heldout = json.loads(splits.read_text()).get("heldout", [])
            except (json.JSONDecodeError, AttributeError):
                raise DivekitError(f"{splits} is not a valid splits file") from None
            chosen = [s for s in labelled if s in heldout]
            if chosen:
                return chosen
    if len(labelled) < 2:
        return []
    return labelled[-max(1, len(labelled) // 5) :]


def pose_targets(labels: VideoLabels) -> np.ndarray:
    """(N, 13, 3) pelvis-centred 3D labels."""
    if labels.xyz is None:
        raise DivekitError(f"the labels of {labels.video} have no x, y, z: Φ needs 3D labels")
    return pelvis_centred(labels.xyz)


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    elapsed_s: float
    clips: int
    train_frames: int = 0
    metrics: dict[str, Any] | None = None
    wrote: list[str] = field(default_factory=list)


def build_selfsup_trainer(
    clips: list[Clip],
    run_dir: Path,
    settings: TrainSettings,
    *,
    uv_labels: list[dict[int, np.ndarray]] | None = None,
    record: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> Trainer:
    """A seeded SelfSupModel initialised from the gravity run, and the engine that trains it on ``clips``.

    Under torchrun the model is wrapped for DDP and each rank draws its own tuples (seed + rank).
    """
    set_seed(settings.train.seed)
    rank = distributed.rank()
    net = DiveNet(settings.model)
    if settings.init:
        net.load_state_dict(settings.init)
    variant = Variant.named(settings.selfsup.variant)
    theta = Theta(settings.model.tv_dim, settings.selfsup.theta_hidden) if uv_labels else None
    bare = SelfSupModel(net, theta)
    if not variant.decode:
        # Without reconstruction nothing tells the detector where the diver is: keep the gravity run's.
        for p in net.detector.parameters():
            p.requires_grad_(False)
    # css leaves the decoder unused, and Θ sees only labelled batches: DDP must allow unused parameters
    model = distributed.wrap_model(bare, find_unused_parameters=True)
    features = None
    if variant.decode:
        features = build_feature_extractor(settings.loss.feature_net, settings.loss.feature_weights)
    if rank:
        set_seed(settings.train.seed + rank)  # each rank its own dropout masks
    objective = SelfSupObjective(model, clips, settings.loss, settings.selfsup, features, uv_labels)
    sampler = TupleSampler(
        [c.times for c in clips],
        batch=settings.train.batch,
        d_pos=settings.selfsup.d_pos,
        d_neg=settings.selfsup.d_neg,
        seed=settings.train.seed + rank,
    )
    record = {
        "stage": TRAIN_STAGE,
        "divekit": __version__,
        "model": settings.model.to_dict(),
        "loss": settings.loss.to_dict(),
        "train": asdict(settings.train),
        "selfsup": settings.selfsup.to_dict(),
        "pose": asdict(settings.pose),
        "inputs": [str(c.path) for c in clips],
        "weak_2d": bool(uv_labels),
        **(record or {}),
    }
    return Trainer(
        model, objective, sampler, settings.train, run_dir, record, callbacks,
        lr_scales={"net.detector.": settings.selfsup.detector_lr_scale},
    )  # fmt: skip


def run_train(
    videos: list[Path],
    run_dir: Path,
    settings: TrainSettings,
    *,
    labels: Sequence[Path] = (),
    label_fraction: float = 1.0,
    val: Sequence[str] | None = None,
    weak_2d: bool = False,
    resume: bool = False,
    background_dir: Path | None = None,
    memory_gb: float = 8.0,
    callbacks: Sequence[Callback] = (),
    on_status: Callable[[str], None] = lambda message: None,
) -> TrainResult:
    """``divekit train``: self-supervised stage, then Φ, then every output (see module doc)."""
    run_dir = Path(run_dir)
    if not 0.0 < label_fraction <= 1.0:
        raise DivekitError(f"--label-fraction must be in (0, 1], got {label_fraction:g}")
    table = read_labels(list(labels)) if labels else {}
    if weak_2d and not table:
        raise DivekitError("--weak-2d needs --labels with u, v columns")
    check_memory(videos, settings.model.frame_size, memory_gb)
    clips: list[Clip] = []
    for video in videos:
        on_status(f"decoding {video.name}")
        clips.append(load_clip(video, settings.model.frame_size, background_dir=background_dir))
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        raise DivekitError("two inputs share a file name; labels are matched by name, so names must be unique")
    # a folder of labels may cover more videos than this run trains on: use the inputs' labels only
    ignored = sorted(set(table) - set(names))
    table = {k: v for k, v in table.items() if k in names}
    if labels and not table:
        raise DivekitError(f"none of the labelled videos ({', '.join(ignored[:5])}) is among the inputs")
    check_frames(table, {c.name: len(c) for c in clips})
    val_names = validation_videos(videos, list(table), val) if table else []
    train_labels = {k: every_kth(v, label_fraction) for k, v in table.items() if k not in val_names}

    uv_labels = None
    if weak_2d:
        if any(v.uv is None for v in train_labels.values()):
            raise DivekitError("--weak-2d needs u, v in every training label file")
        # the labels are in the video's own pixels; Θ is trained in the working frame's
        uv_labels = [
            dict(zip(train_labels[c.name].frames.tolist(), c.framing.from_source(train_labels[c.name].uv), strict=True))
            if c.name in train_labels else {}
            for c in clips
        ]  # fmt: skip

    trainer = build_selfsup_trainer(
        clips,
        run_dir,
        settings,
        uv_labels=uv_labels,
        record={"labels": [str(p) for p in labels], "label_fraction": label_fraction, "val": val_names},
        callbacks=callbacks,
    )
    if resume:
        _, state = load_checkpoint(run_dir)
        trainer.restore(state)
    trainer.fit()
    result = TrainResult(run_dir, trainer.step, trainer.elapsed_s, len(clips))
    if not distributed.is_main():  # under torchrun rank 0 alone fits Φ and writes the outputs
        return result

    on_status("encoding every frame")
    model: SelfSupModel = trainer.module
    variant = Variant.named(settings.selfsup.variant)
    codes = [clip_codes(model.net, model.theta, c, variant, use_2d=settings.pose.use_2d) for c in clips]
    boxes = pd.concat([boxes_dataframe(c, k.boxes) for c, k in zip(clips, codes, strict=True)], ignore_index=True)
    with atomic_path(run_dir / "boxes.csv") as tmp:
        boxes.to_csv(tmp, index=False, float_format="%.3f")
    result.wrote.append("boxes.csv")
    plot_losses(trainer.log, run_dir / "losses.png")
    result.wrote.append("losses.png")
    if variant.decode:
        plot_swap(swap_rows(model.net, clips), run_dir / "swap.png")
        result.wrote.append("swap.png")

    if not train_labels:
        return result
    on_status("fitting the pose regressor")
    index = {c.name: i for i, c in enumerate(clips)}
    x = np.concatenate([codes[index[k]].latent[v.frames] for k, v in train_labels.items()])
    y = np.concatenate([pose_targets(v) for v in train_labels.values()])
    result.train_frames = len(x)
    phi, phi_losses = fit_regressor(x, y, settings.pose)
    pose_model = PoseModel(model.net, model.theta, phi, settings.selfsup.variant, settings.pose)
    # float16 on disk (float32 when loaded): small enough to share, and to ship as the default model
    save_pose_model(
        run_dir / MODEL_NAME, pose_model, record={"divekit": __version__, "train_run": str(run_dir)}, half=True
    )
    result.wrote.append(MODEL_NAME)
    plot_losses([{"step": k + 1, "pose3d": v} for k, v in enumerate(phi_losses)], run_dir / "pose_losses.png")
    result.wrote.append("pose_losses.png")

    predictions = [steady_size(predict_poses(phi, k.latent)) for k in codes]  # one diver's size per video
    tables = [poses_dataframe(c.name, np.arange(len(c)), c.times, p) for c, p in zip(clips, predictions, strict=True)]
    with atomic_path(run_dir / "poses.csv") as tmp:
        pd.concat(tables, ignore_index=True).to_csv(tmp, index=False, float_format="%.5f")
    result.wrote.append("poses.csv")

    metrics: dict[str, Any] = {
        "variant": settings.selfsup.variant,
        "label_fraction": label_fraction,
        "train_labelled_frames": len(x),
        "train_videos": sorted(train_labels),
        "validation_videos": val_names,
        "labelled_videos_not_in_inputs": ignored,
        "steps": trainer.step,
        "elapsed_s": round(trainer.elapsed_s, 1),
    }
    for split, names_ in (("validation", val_names), ("train", sorted(train_labels))):
        pred = [predictions[index[k]][table[k].frames] for k in names_]
        gt = [pose_targets(table[k]) for k in names_]
        metrics[split] = pose_report(np.concatenate(pred), np.concatenate(gt)) if pred else None
    write_json_atomic(run_dir / "metrics.json", metrics)
    result.wrote.append("metrics.json")
    result.metrics = metrics
    return result


@torch.no_grad()
def swap_rows(net: DiveNet, clips: list[Clip], count: int = 4) -> dict[str, np.ndarray]:
    """Paper Fig. 5: crops of two clips, and tv of one decoded with ti of the other (both ways).

    The two clips are the first and the last input (different divers in the sample data); frames
    are spread over the middle of each clip, where the diver is in the air.
    """
    from divekit.gravity import frames_tensor
    from divekit.model import crop as crop_fn

    was = net.training
    net.eval()
    a, b = 0, len(clips) - 1
    pick = [np.linspace(0.35, 0.7, count) * (len(clips[c]) - 1) for c in (a, b)]
    rows: dict[str, np.ndarray] = {}
    outs = []
    for c, frames_idx in zip((a, b), pick, strict=True):
        idx = frames_idx.round().astype(int)
        frames, backgrounds = frames_tensor(clips, np.full(len(idx), c), idx)
        box = net.detect(frames, backgrounds)
        crop_ = net.crop(frames, box)
        tv, ti = net.encode(crop_)
        outs.append((crop_, tv, ti, crop_fn(backgrounds, box, net.config.crop_size)))
    (crop_a, tv_a, ti_a, bg_a), (crop_b, tv_b, ti_b, bg_b) = outs

    def decoded(tv: torch.Tensor, ti: torch.Tensor, bg: torch.Tensor) -> np.ndarray:
        rgb, mask = net.decode(tv, ti)
        return (mask * rgb + (1 - mask) * bg).permute(0, 2, 3, 1).numpy()

    rows[f"S1: {clips[a].name}"] = crop_a.permute(0, 2, 3, 1).numpy()
    rows[f"S2: {clips[b].name}"] = crop_b.permute(0, 2, 3, 1).numpy()
    rows["pose S1 + look S2"] = decoded(tv_a, ti_b, bg_a)
    rows["pose S2 + look S1"] = decoded(tv_b, ti_a, bg_b)
    net.train(was)
    return rows


__all__ = [
    "TrainSettings",
    "TrainResult",
    "load_init",
    "validation_videos",
    "build_selfsup_trainer",
    "run_train",
    "swap_rows",
]
