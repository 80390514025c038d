"""The gravity stage (paper §3.2, S.1): teach the STN where the diver is, fast, on free-fall footage.

Objective = reconstruction (Eq. 2) + γ·tracking (Eq. 9-12, on the flight only) + a search prior.

The search prior answers DESIGN.md's measured pitfall (a box that does not overlap a small diver
gets no gradient from reconstruction): the box is pulled towards *proposals* made from the
background-difference track, smoothed by a robust free-fall fit through the flight; the pull fades
to ``proposal_floor`` of its weight over ``proposal_decay_steps`` (when it faded to zero, boxes
drifted off the diver within a few hundred steps: reconstruction alone does not hold them on a
2-core CPU budget). For a purely learned heatmap the proposals also pull the detector's attention
towards the one each stands for (:func:`attention_loss`): the pull on the box alone reaches the
heatmap only through the attention's mean and spread, and a flat attention barely moves under it.
``use_gravity=False`` (``--no-gravity``) turns off the tracking losses, the flight-aware sampling
and the proposals: reconstruction only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from divekit import __version__, distributed
from divekit.checkpoint import load_checkpoint
from divekit.config import LossConfig, ModelConfig
from divekit.data import Clip, check_memory, load_clip
from divekit.features import build_feature_extractor
from divekit.inference import boxes_dataframe, boxes_to_pixels, frames_to_tensor, pixels_to_boxes, predict_boxes
from divekit.io import atomic_path
from divekit.losses import const_acc_loss_timed, order_loss, reconstruction_loss, scale_loss
from divekit.model import DiveNet, cell_centres
from divekit.motion import MotionTrack, flight_from_track, motion_track
from divekit.plots import plot_box_heights, plot_losses, plot_preview
from divekit.sampling import GravitySampler, QuadBatch, Window
from divekit.training import Callback, TrainConfig, Trainer, set_seed


@dataclass
class GravityConfig:
    """Knobs of the gravity stage; saved in the checkpoint."""

    use_gravity: bool = True
    stride_s: tuple[float, float] = (0.03, 0.2)  # time between the frames of a quad
    proposal_weight: float = 1.0  # initial weight of the search prior
    # steps over which the weight falls linearly to its floor (a count, not a fraction of the run,
    # so extending a run with --resume --steps does not rewrite its history)
    proposal_decay_steps: int = 600
    proposal_floor: float = 0.5  # the weight kept after that, as a fraction of proposal_weight
    proposal_pad: float = 1.15  # proposal box = foreground extent x this
    # Weight of the attention the proposals stand for (attention_loss), relative to their pull on
    # the box; None: 1 for a purely learned heatmap, 0 with the energy term (resolved_for). Measured
    # (benchmarks/results/detection_attention/): the learned heatmap boxed 94 % of held-out flight
    # frames at IoU >= 0.5 after 2 minutes with it, 5 % without; with the energy term, whose first
    # boxes are already on the diver, it fell from 98 % to 60-84 %.
    attention_weight: float | None = None
    # The detector's soft-argmax logits must grow from zero to a sharp peak; at the base rate
    # (1e-4) that takes thousands of steps, so the STN learns at this multiple of it.
    detector_lr_scale: float = 10.0

    def __post_init__(self) -> None:
        for name in ("proposal_weight", "attention_weight"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "stride_s": list(self.stride_s)}

    def resolved_for(self, model_cfg: ModelConfig) -> GravityConfig:
        """This config with the choices left to the model made (``attention_weight``)."""
        if self.attention_weight is not None:
            return self
        learned_only = not (model_cfg.detector_energy and model_cfg.detector_uses_background)
        return replace(self, attention_weight=1.0 if learned_only else 0.0)


@dataclass(frozen=True)
class ClipPrior:
    """What the background difference says about one clip, before any training."""

    track: MotionTrack
    window: Window | None  # the free-fall run, if one was found
    proposals: np.ndarray  # (N, 4) s_x, s_y, u_x, u_y in affine_grid units
    valid: np.ndarray  # (N,) bool


def clip_prior(clip: Clip, pad: float = GravityConfig.proposal_pad) -> ClipPrior:
    """Track the foreground, find the flight, and turn both into per-frame box proposals."""
    h = clip.size[1]
    track = motion_track(clip.frames, clip.background, clip.times)
    fit = flight_from_track(track, h)
    centre = track.centre.copy()
    valid = track.valid.copy()
    if fit is not None:
        in_flight = (clip.times >= fit.t_start) & (clip.times <= fit.t_end)
        centre[in_flight, 1] = fit(clip.times[in_flight])
        # horizontal motion in free fall is uniform: a straight line through the inliers
        line = np.polyfit(clip.times[fit.inliers], track.centre[fit.inliers, 0], 1)
        centre[in_flight, 0] = np.polyval(line, clip.times[in_flight])
        valid |= in_flight
    extent = _smooth_extent(track.extent, track.valid)
    size = np.clip(extent * pad, 4.0, None)
    proposals = pixels_to_boxes(np.concatenate([centre, size], axis=1), clip.size)
    valid &= np.isfinite(proposals).all(axis=1)
    return ClipPrior(track, Window.from_fit(fit) if fit else None, np.nan_to_num(proposals), valid)


def _smooth_extent(extent: np.ndarray, valid: np.ndarray, radius: int = 3) -> np.ndarray:
    """Running median of the foreground extent over valid frames (a splash or a limb flicker is brief)."""
    out = np.full_like(extent, np.nan)
    idx = np.flatnonzero(valid)
    for k, i in enumerate(idx):
        out[i] = np.median(extent[idx[max(0, k - radius) : k + radius + 1]], axis=0)
    # frames without foreground borrow the nearest measured extent
    if len(idx):
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(len(extent))), 0, len(idx) - 1)]
        out[~valid] = out[nearest[~valid]]
    return out


def proposal_weight(cfg: GravityConfig, step: int) -> float:
    """Linear fade from ``proposal_weight`` to ``proposal_floor`` of it over ``proposal_decay_steps``."""
    if not cfg.use_gravity or cfg.proposal_weight <= 0:
        return 0.0
    fade = max(0.0, 1.0 - step / max(cfg.proposal_decay_steps, 1))
    return cfg.proposal_weight * (cfg.proposal_floor + (1.0 - cfg.proposal_floor) * fade)


def proposal_loss(boxes: torch.Tensor, proposals: torch.Tensor) -> torch.Tensor:
    """Squared distance of (N,4) boxes to proposals: centres in affine_grid units, sizes in log.

    Sizes are compared as log ratios because the overlap of two boxes depends on their relative
    size: a box twice too big costs the same for a small diver as for a large one.
    """
    assert boxes.shape == proposals.shape and boxes.shape[-1] == 4, (boxes.shape, proposals.shape)
    centre = (boxes[:, 2:] - proposals[:, 2:]).pow(2).sum(1)
    size = (boxes[:, :2].log() - proposals[:, :2].log()).pow(2).sum(1)
    return (centre + size).mean()


def proposal_attention(proposals: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The attention (N, h, w) over the detector's cells whose box is each (N,4) proposal.

    The detector's box is ±2σ of its attention (s = 2σ, :class:`divekit.model.Detector`, at its
    initial gain). A uniform attention over the central √3/2 of a box of half-size s has σ = s/2, so
    that region, with each cell weighted by the fraction of it that the region covers, is the
    attention the proposal stands for. All zeros where the region misses the grid.
    """
    assert proposals.ndim == 2 and proposals.shape[1] == 4, proposals.shape
    h, w = grid

    def cover(u: torch.Tensor, half: torch.Tensor, n: int) -> torch.Tensor:
        # overlap of each cell [c - 1/n, c + 1/n] (affine_grid units) with [u - half, u + half], in cells
        centres = cell_centres(n, u)
        lo = torch.maximum(centres - 1 / n, (u - half)[:, None])
        hi = torch.minimum(centres + 1 / n, (u + half)[:, None])
        return (hi - lo).clamp_min(0.0) * (n / 2)

    half = proposals[:, :2] * (math.sqrt(3) / 2)
    weight = cover(proposals[:, 3], half[:, 1], h)[:, :, None] * cover(proposals[:, 2], half[:, 0], w)[:, None, :]
    total = weight.sum((1, 2), keepdim=True)
    return torch.where(total > 0, weight / total.clamp_min(1e-12), torch.zeros_like(weight))


def attention_loss(log_attention: torch.Tensor, proposals: torch.Tensor) -> torch.Tensor:
    """KL(target ‖ attention), the target being each (N,4) proposal's attention
    (:func:`proposal_attention`), mean over the proposals whose region meets the grid.

    The box loss (:func:`proposal_loss`) reaches the heatmap only through the attention's mean and
    spread, a weak pull on a flat attention; this one tells every cell how much of the diver it holds.
    """
    assert log_attention.ndim == 3 and len(log_attention) == len(proposals), (log_attention.shape, proposals.shape)
    target = proposal_attention(proposals, tuple(log_attention.shape[1:]))
    kl = (torch.xlogy(target, target) - target * log_attention).sum((1, 2))
    hits = target.sum((1, 2)) > 0
    return kl[hits].mean() if hits.any() else log_attention.sum() * 0.0


def frames_tensor(clips: list[Clip], clip_idx: np.ndarray, frame_idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack frames and their backgrounds as float (B,3,H,W) tensors in [0, 1]."""
    frames = np.stack([clips[c].frames[f] for c, f in zip(clip_idx, frame_idx, strict=True)])
    backgrounds = np.stack([clips[c].background for c in clip_idx])
    return frames_to_tensor(frames), frames_to_tensor(backgrounds)


class GravityObjective:
    """Eq. 14 of the gravity stage: L_reconst + γ·L_track (+ the fading search prior)."""

    def __init__(
        self,
        model,
        clips: list[Clip],
        priors: list[ClipPrior],
        features,
        loss_cfg,
        cfg: GravityConfig,
    ):
        self.model, self.clips, self.priors = model, clips, priors
        self.features, self.loss_cfg, self.cfg = features, loss_cfg, cfg

    def __call__(self, batch: QuadBatch, step: int) -> dict[str, torch.Tensor]:
        b = len(batch.clip)
        clip_idx, frame_idx = np.repeat(batch.clip, 4), batch.frames.reshape(-1)
        frames, backgrounds = frames_tensor(self.clips, clip_idx, frame_idx)
        out = self.model(frames, backgrounds)
        lc = self.loss_cfg
        recon = reconstruction_loss(out.target, out.recon, self.features, lc.lam, lc.rho)
        terms = {"recon": recon}
        total = recon
        if self.cfg.use_gravity:
            boxes = out.box.view(b, 4, 4)
            zero = boxes.sum() * 0.0
            fl = torch.from_numpy(batch.in_flight)
            ds = torch.from_numpy(batch.descending)
            times = torch.from_numpy(batch.times).to(boxes.dtype)
            terms["const_acc"] = const_acc_loss_timed(boxes[fl][..., 3], times[fl]) if fl.any() else zero
            terms["order"] = order_loss(boxes[ds][..., 3], lc.order_margin) if ds.any() else zero
            terms["scale"] = scale_loss(boxes[fl][..., :2]) if fl.any() else zero
            track = terms["const_acc"] + terms["order"] + terms["scale"]
            terms["track"] = track
            total = total + lc.gamma * track
            w = proposal_weight(self.cfg, step)
            if w > 0:
                pairs = list(zip(clip_idx, frame_idx, strict=True))
                target = np.stack([self.priors[c].proposals[f] for c, f in pairs])
                valid = np.array([self.priors[c].valid[f] for c, f in pairs])
                if valid.any():
                    v = torch.from_numpy(valid)
                    proposals = torch.from_numpy(target[valid]).to(out.box.dtype)
                    terms["proposal"] = proposal_loss(out.box[v], proposals)
                    total = total + w * terms["proposal"]
                    if self.cfg.attention_weight:
                        terms["attention"] = attention_loss(out.attention[v], proposals)
                        total = total + w * self.cfg.attention_weight * terms["attention"]
        terms["total"] = total
        return terms


def make_sampler(
    priors: list[ClipPrior], clips: list[Clip], *, batch: int, cfg: GravityConfig, seed: int
) -> GravitySampler:
    return GravitySampler(
        [c.times for c in clips],
        [p.window for p in priors],
        batch=batch,
        stride_s=cfg.stride_s,
        seed=seed,
        use_windows=cfg.use_gravity,
    )


def build_trainer(
    clips: list[Clip],
    priors: list[ClipPrior],
    run_dir: Path,
    *,
    model_cfg: ModelConfig,
    loss_cfg: LossConfig,
    train_cfg: TrainConfig,
    gravity_cfg: GravityConfig,
    callbacks: Sequence[Callback] = (),
) -> Trainer:
    """A fresh, seeded DiveNet and the engine that trains its gravity stage on ``clips``.

    Under torchrun (:mod:`divekit.distributed`) the model is wrapped for DDP and each rank draws its
    own quads (sampler seed ``seed + rank``) and dropout masks; one process is rank 0 of 1.
    """
    gravity_cfg = gravity_cfg.resolved_for(model_cfg)
    set_seed(train_cfg.seed)
    rank = distributed.rank()
    model = distributed.wrap_model(DiveNet(model_cfg))  # the same initial weights on every rank
    features = build_feature_extractor(loss_cfg.feature_net, loss_cfg.feature_weights)  # and features
    if rank:
        set_seed(train_cfg.seed + rank)
    objective = GravityObjective(model, clips, priors, features, loss_cfg, gravity_cfg)
    sampler = make_sampler(priors, clips, batch=train_cfg.batch, cfg=gravity_cfg, seed=train_cfg.seed + rank)
    record = {
        "stage": "gravity",
        "divekit": __version__,
        "model": model_cfg.to_dict(),
        "loss": loss_cfg.to_dict(),
        "train": asdict(train_cfg),
        "gravity": gravity_cfg.to_dict(),
        "inputs": [str(clip.path) for clip in clips],
    }
    return Trainer(
        model, objective, sampler, train_cfg, run_dir, record, callbacks,
        lr_scales={"detector.": gravity_cfg.detector_lr_scale},
    )  # fmt: skip


@dataclass
class PretrainResult:
    run_dir: Path
    steps: int
    elapsed_s: float
    boxes: pd.DataFrame  # empty on ranks other than 0 (under torchrun)
    flights_found: int
    clips: int


def run_pretrain(
    videos: list[Path],
    run_dir: Path,
    *,
    model_cfg: ModelConfig,
    loss_cfg: LossConfig,
    train_cfg: TrainConfig,
    gravity_cfg: GravityConfig,
    resume: bool = False,
    background_dir: Path | None = None,
    memory_gb: float = 8.0,
    callbacks: Sequence[Callback] = (),
    on_status: Callable[[str], None] = lambda message: None,
) -> PretrainResult:
    """``divekit pretrain-gravity``: load clips, train DiveNet's gravity stage, write its outputs."""
    run_dir = Path(run_dir)
    check_memory(videos, model_cfg.frame_size, memory_gb)
    clips = []
    for video in videos:
        on_status(f"decoding {video.name}")
        clips.append(load_clip(video, model_cfg.frame_size, background_dir=background_dir))
    on_status("tracking the foreground and fitting free fall")
    priors = [clip_prior(clip, gravity_cfg.proposal_pad) for clip in clips]

    trainer = build_trainer(
        clips,
        priors,
        run_dir,
        model_cfg=model_cfg,
        loss_cfg=loss_cfg,
        train_cfg=train_cfg,
        gravity_cfg=gravity_cfg,
        callbacks=callbacks,
    )
    model = trainer.module
    if resume:
        _, state = load_checkpoint(run_dir)
        trainer.restore(state)
    trainer.fit()

    boxes = pd.DataFrame()
    # The other ranks hold the same weights: rank 0 alone writes the outputs, and the others end
    # here (no barrier: predicting every frame of a large set can outlast the collective timeout;
    # torchrun returns when rank 0 has finished).
    if distributed.is_main():
        on_status("writing boxes, plots and preview")
        tables = [boxes_dataframe(clip, predict_boxes(model, clip)) for clip in clips]
        boxes = pd.concat(tables, ignore_index=True)
        with atomic_path(run_dir / "boxes.csv") as tmp:
            boxes.to_csv(tmp, index=False, float_format="%.3f")
        plot_losses(trainer.log, run_dir / "losses.png")
        plot_box_heights(boxes, {clip.path.name: clip.source_size[1] for clip in clips}, run_dir / "heights.png")
        plot_preview(preview_rows(model, clips, priors), run_dir / "preview.png")
    return PretrainResult(
        run_dir=run_dir,
        steps=trainer.step,
        elapsed_s=trainer.elapsed_s,
        boxes=boxes,
        flights_found=sum(p.window is not None for p in priors),
        clips=len(clips),
    )


@torch.no_grad()
def preview_rows(model: DiveNet, clips: list[Clip], priors: list[ClipPrior], count: int = 4) -> list[dict]:
    """A few in-flight frames spread over the clips, run through the whole model."""
    was_training = model.training
    model.eval()
    rows = []
    picks = np.linspace(0, len(clips) - 1, min(count, len(clips))).round().astype(int)
    for c in picks:
        clip, window = clips[c], priors[c].window
        t_mid = (window.t_start + window.t_end) / 2 if window else clip.times[len(clip) // 2]
        f = int(np.argmin(np.abs(clip.times - t_mid)))
        frame, background = frames_tensor(clips, np.array([c]), np.array([f]))
        out = model(frame, background)
        px = boxes_to_pixels(out.box.numpy().astype(np.float64), clip.size)[0]
        to_image = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
        rows.append(
            {
                "frame": to_image(frame),
                "crop": to_image(out.crop),
                "mask": out.crop_mask[0, 0].numpy(),
                "recon": to_image(out.recon),
                "background": to_image(background),
                "box": px,
            }
        )
    model.train(was_training)
    return rows
