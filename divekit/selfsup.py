"""The self-supervised stage of `divekit train` (paper §3.1, §3.3, Eq. 14), and its ablation variants.

One objective serves the four variants of paper §4.2, all on the same DiveNet:

- ``ours``    DSL-STN-Dec-Split: reconstruction + DSL (Eq. 5-6) on tv, disentanglement (§3.1.3);
- ``css``     the CSS InfoNCE loss (Eq. 3) on the whole latent, no decoding, no split;
- ``ae``      STN + decoder, reconstruction only, no contrastive loss, no split;
- ``nosplit`` DSL-STN-Dec: reconstruction + DSL on the whole latent, no disentanglement.

Disentanglement, the three points of §3.1.3 as read here:
1. ti swapped across frames of one clip: each tuple's four frames come from one clip and are
   decoded with the ti of another frame of the same tuple (a random cyclic shift);
2. E_tv sees a colour-jittered crop, E_ti the plain one;
3. "temporally distant time-invariant parts dissimilar": the most distant frames there are lie
   in other videos, so Eq. 5 is applied to ti with d = 0 for two frames of one clip (pulled
   together) and d = ∞ for frames of different clips (pushed apart). Points 1 and 3 then leave ti
   what is constant within a clip and differs between clips: the diver's appearance.

A deviation, off by default (``decorrelate`` 0, the paper): DSL alone squeezes tv into few
dimensions (on the sample data after 20 minutes its effective rank on the held-out diver was 6.5
with ``ours``, 8.6 for the gravity run, 13.1 for ``ae``; ``benchmarks/bench_tv_probe.py``), a code of
the dive's phase more than of the pose. ``decorrelate`` > 0 adds the mean squared off-diagonal
correlation of the contrastive latent over the batch (:func:`decorrelation_loss`, after Barlow
Twins' redundancy term, Zbontar et al. 2021), weighted by α·decorrelate.

The paper's two-stage schedule (S.1) is kept: the tracking term γ·L_track of Eq. 14 belongs to
the ``pretrain-gravity`` run this stage starts from; here the tuple sampling does not give the
equidistant frames it needs, so γ is 0 in this stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from divekit.config import LossConfig
from divekit.contrastive import css_infonce, dsl_all, dsl_loss
from divekit.data import Clip
from divekit.errors import DivekitError
from divekit.gravity import frames_tensor
from divekit.losses import pose2d_loss, reconstruction_loss
from divekit.model import DiveNet, DiveOutput, color_jitter
from divekit.sampling import TupleBatch
from divekit.skeleton import JOINTS

VARIANTS = ("ours", "css", "ae", "nosplit")


@dataclass(frozen=True)
class Variant:
    """What a variant switches on (paper §4.2)."""

    decode: bool  # reconstruction loss of Eq. 2
    contrastive: str | None  # "dsl", "css" or None
    split: bool  # contrastive on tv only, ti swap, jitter, ti contrast; else the whole latent

    @classmethod
    def named(cls, name: str) -> Variant:
        table = {
            "ours": cls(decode=True, contrastive="dsl", split=True),
            "css": cls(decode=False, contrastive="css", split=False),
            "ae": cls(decode=True, contrastive=None, split=False),
            "nosplit": cls(decode=True, contrastive="dsl", split=False),
        }
        if name not in table:
            raise DivekitError(f"unknown variant {name!r}; choose one of {', '.join(VARIANTS)}")
        return table[name]


@dataclass
class SelfSupConfig:
    """Settings of the self-supervised stage; saved in the checkpoint."""

    variant: str = "ours"
    # Tuple distances in frames (paper S.1, diving): near within d_pos, far at least d_neg away;
    # d_max of Eq. 5 is d_neg, so the far frame gets the full dissimilarity weight.
    d_pos: float = 3.0
    d_neg: float = 20.0
    tau: float = 0.1  # temperature of Eq. 3 (css)
    # Weight of the ti contrast (disentanglement point 3), relative to α.
    ti_contrast: float = 1.0
    # Weight of the contrastive term when it is the only loss (css); α of Eq. 14 otherwise.
    css_weight: float = 1.0
    # The detector's learning rate relative to the rest (the gravity stage used 10).
    detector_lr_scale: float = 1.0
    # Weak 2D labels (§3.3): MLP Θ on tv with this hidden width; used when labels carry u, v.
    theta_hidden: int = 256
    # Weight of the decorrelation of the contrastive latent, relative to α; 0 = none, as in the paper.
    decorrelate: float = 0.0

    def __post_init__(self) -> None:
        Variant.named(self.variant)
        if not 0 < self.d_pos < self.d_neg:
            raise DivekitError(f"need 0 < d_pos < d_neg, got {self.d_pos}, {self.d_neg}")
        if self.tau <= 0:
            raise DivekitError(f"tau must be positive, got {self.tau}")
        if self.decorrelate < 0:
            raise DivekitError(f"decorrelate must be 0 (none) or positive, got {self.decorrelate}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pose_latent(tv: Tensor, ti: Tensor, variant: Variant) -> Tensor:
    """The features the contrastive loss and the pose regressor see: tv with the split, else [tv, ti]."""
    return tv if variant.split else torch.cat([tv, ti], 1)


class Theta(nn.Module):
    """Θ of Eq. 13: tv -> 2D joints in crop coordinates (13 x 2), a two-layer MLP."""

    def __init__(self, tv_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(tv_dim, hidden), nn.ReLU(), nn.Linear(hidden, len(JOINTS) * 2))

    def forward(self, tv: Tensor) -> Tensor:
        return self.net(tv).view(-1, len(JOINTS), 2)


class SelfSupOutput(NamedTuple):
    box: Tensor  # (B,4)
    tv: Tensor  # (B,tv_dim), from the jittered crop when jitter is given
    ti: Tensor  # (B,ti_dim), each frame's own (before any swap)
    recon: DiveOutput | None  # the decoding pass, when the variant decodes
    pose2d: Tensor | None  # (B,13,2) Θ(tv), with the Θ head


class SelfSupModel(nn.Module):
    """DiveNet plus the optional Θ head: what the self-supervised stage trains and checkpoints.

    Its forward is the whole pass of a training step, so one call through a DDP wrapper covers
    every parameter the step uses (:mod:`divekit.distributed`).
    """

    def __init__(self, net: DiveNet, theta: Theta | None = None) -> None:
        super().__init__()
        self.net = net
        self.theta = theta

    def forward(
        self,
        frames: Tensor,
        backgrounds: Tensor,
        *,
        decode: bool,
        ti_perm: Tensor | None = None,
        jitter: Callable[[Tensor], Tensor] | None = None,
    ) -> SelfSupOutput:
        net = self.net
        if decode:
            out = net(frames, backgrounds, ti_perm=ti_perm, jitter=jitter)
            box, tv, ti = out.box, out.tv, out.ti
            if ti_perm is not None:  # out.ti[k] is frame ti_perm[k]'s: put each frame's own back
                ti = torch.empty_like(out.ti).index_copy(0, ti_perm, out.ti)
        else:
            out = None
            box = net.detect(frames, backgrounds)
            tv, ti = net.encode(net.crop(frames, box))
        pose2d = self.theta(tv) if self.theta is not None else None
        return SelfSupOutput(box, tv, ti, out, pose2d)


def uv_to_crop(uv: Tensor, box: Tensor, frame_size: Tensor) -> Tensor:
    """(B,J,2) pixels of a frame, (B,4) boxes, (B,2) the frame's (w, h) -> (B,J,2) crop coordinates."""
    assert uv.ndim == 3 and uv.shape[-1] == 2 and box.shape == (uv.shape[0], 4), (uv.shape, box.shape)
    norm = 2.0 * uv / frame_size[:, None, :] - 1.0
    return (norm - box[:, None, 2:]) / box[:, None, :2]


def ti_contrast_loss(ti: Tensor, clip: Tensor) -> Tensor:
    """Eq. 5 on ti over every pair of the batch: d = 0 within a clip, d ≥ d_max across clips.

    With d_max = 1, d = 2 stands for "another video": Eq. 5's dissimilarity weight is already 1.
    """
    assert ti.ndim == 2 and clip.shape == (ti.shape[0],), (ti.shape, clip.shape)
    i, j = torch.triu_indices(len(ti), len(ti), offset=1)
    d = torch.where(clip[i] == clip[j], 0.0, 2.0).to(ti.dtype)
    return dsl_loss(ti[i], ti[j], d, d_max=1.0).mean()


def decorrelation_loss(z: Tensor) -> Tensor:
    """(N, D) features -> the mean over the D(D-1) pairs of dimensions of their squared correlation
    over the N samples: 0 when the dimensions vary independently, 1 when all move as one."""
    assert z.ndim == 2 and z.shape[0] > 1 and z.shape[1] > 1, z.shape
    centred = z - z.mean(0)
    unit = centred / centred.norm(dim=0).clamp_min(1e-8)
    corr = unit.T @ unit
    d = z.shape[1]
    return (corr.square().sum() - corr.diagonal().square().sum()) / (d * (d - 1))


class SelfSupObjective:
    """Eq. 14 for the tuple batches of the train stage: L_reconst + α·L_DSL + η·L_pose2D (by variant)."""

    def __init__(
        self,
        model: SelfSupModel,
        clips: list[Clip],
        loss_cfg: LossConfig,
        cfg: SelfSupConfig,
        features: nn.Module | None,
        uv_labels: list[dict[int, np.ndarray]] | None = None,  # per clip: frame -> (13, 2) working-frame px
    ) -> None:
        self.model, self.clips, self.loss_cfg, self.cfg = model, clips, loss_cfg, cfg
        self.variant = Variant.named(cfg.variant)
        self.features = features
        self.uv_labels = uv_labels

    @staticmethod
    def _swap(b: int, generator: torch.Generator) -> Tensor:
        """A permutation of the 4·b frames that moves each ti to another frame of the same tuple."""
        shift = torch.randint(1, 4, (b,), generator=generator)
        within = (torch.arange(4)[None, :] + shift[:, None]) % 4
        return (torch.arange(b)[:, None] * 4 + within).reshape(-1)

    def __call__(self, batch: TupleBatch, step: int) -> dict[str, Tensor]:
        b = len(batch.clip)
        clip_idx, frame_idx = np.repeat(batch.clip, 4), batch.frames.reshape(-1)
        frames, backgrounds = frames_tensor(self.clips, clip_idx, frame_idx)
        v, lc = self.variant, self.loss_cfg
        terms: dict[str, Tensor] = {}
        total = frames.new_zeros(())

        # augmentation draws come from the batch's own seed (the sampler's state is checkpointed)
        generator = torch.Generator().manual_seed(batch.seed)
        swap = v.decode and v.split
        out = self.model(
            frames,
            backgrounds,
            decode=v.decode,
            ti_perm=self._swap(b, generator) if swap else None,
            jitter=(lambda c: color_jitter(c, generator)) if swap else None,
        )
        tv, ti, box = out.tv, out.ti, out.box
        if out.recon is not None:
            terms["recon"] = reconstruction_loss(out.recon.target, out.recon.recon, self.features, lc.lam, lc.rho)
            total = total + terms["recon"]

        if v.contrastive is not None:
            z = pose_latent(tv, ti, v).view(b, 4, -1)
            d = torch.from_numpy(batch.distance).to(z.dtype)
            if v.contrastive == "dsl":
                terms["dsl"] = dsl_all(z[:, 0], z[:, 1], z[:, 2], z[:, 3], d[:, 0], d[:, 1], d[:, 2], self.cfg.d_neg)
                total = total + lc.alpha * terms["dsl"]
            else:
                negatives = _css_negatives(z)
                terms["css"] = css_infonce(z[:, 0], z[:, 1], negatives, self.cfg.tau)
                total = total + self.cfg.css_weight * terms["css"]
            if v.contrastive == "dsl" and self.cfg.decorrelate > 0:
                terms["decor"] = decorrelation_loss(z.reshape(4 * b, -1))
                total = total + lc.alpha * self.cfg.decorrelate * terms["decor"]
            if v.split and self.cfg.ti_contrast > 0:
                terms["ti"] = ti_contrast_loss(ti, torch.from_numpy(clip_idx))
                total = total + lc.alpha * self.cfg.ti_contrast * terms["ti"]

        if out.pose2d is not None and self.uv_labels is not None:
            pose2d = self._pose2d(out.pose2d, box, clip_idx, frame_idx)
            if pose2d is not None:
                terms["pose2d"] = pose2d
                total = total + lc.eta * pose2d
        terms["total"] = total
        return terms

    def _pose2d(self, pred: Tensor, box: Tensor, clip_idx: np.ndarray, frame_idx: np.ndarray) -> Tensor | None:
        """Eq. 13 on the frames of the batch that carry 2D labels, in the crop's coordinates."""
        rows = [(k, self.uv_labels[c].get(int(f))) for k, (c, f) in enumerate(zip(clip_idx, frame_idx, strict=True))]
        rows = [(k, uv) for k, uv in rows if uv is not None]
        if not rows:
            return None
        keep = torch.tensor([k for k, _ in rows])
        uv = torch.from_numpy(np.stack([uv for _, uv in rows])).to(pred.dtype)
        size = torch.tensor([self.clips[clip_idx[k]].size for k, _ in rows], dtype=pred.dtype)
        target = uv_to_crop(uv, box[keep].detach(), size)
        return pose2d_loss(pred[keep], target)


def _css_negatives(z: Tensor) -> Tensor:
    """(B,4,D) tuples -> (B,K,D) negatives of each reference: its far frame and every frame of the other tuples."""
    b = z.shape[0]
    others = [torch.cat([z[:k], z[k + 1 :]]).reshape(-1, z.shape[-1]) for k in range(b)]
    return torch.stack([torch.cat([z[k, 3:4], others[k]]) for k in range(b)])


__all__ = [
    "VARIANTS",
    "Variant",
    "SelfSupConfig",
    "SelfSupModel",
    "SelfSupObjective",
    "Theta",
    "pose_latent",
    "decorrelation_loss",
    "ti_contrast_loss",
    "uv_to_crop",
]
