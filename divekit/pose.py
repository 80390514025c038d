"""3D pose from frozen time-variant features (paper §3.4, Eq. 15), and the exported pose model.

Φ maps a frame's latent (tv, or [tv, ti] for variants without the split; optionally with Θ's
predicted 2D pose) to the 13 joints, pelvis-centred, in the camera frame, in metres. It is
trained on few labels with DiveNet frozen: the latents are computed once, so Φ trains in seconds.

The exported :class:`PoseModel` (DiveNet + Θ + Φ) is what ``divekit analyze`` runs; it is one
checkpoint file of stage "pose", optionally stored in half precision to ship inside the package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from divekit.checkpoint import load_checkpoint, save_checkpoint
from divekit.config import ModelConfig
from divekit.data import Clip
from divekit.errors import DivekitError
from divekit.inference import frames_to_tensor
from divekit.losses import pose3d_loss
from divekit.model import DiveNet
from divekit.selfsup import Theta, Variant, pose_latent
from divekit.skeleton import JOINTS

REGRESSORS = ("mlp", "residual")
POSE_STAGE = "pose"
N_JOINTS = len(JOINTS)


@dataclass
class PoseConfig:
    """Φ and how it is fitted; saved with the pose model."""

    # "mlp": two hidden layers of 2048 with dropout 0.5; "residual": linear to 1024, three
    # residual blocks of two 1024 layers with ReLU, linear output (paper §3.4 / §4).
    regressor: str = "mlp"
    dropout: float = 0.5
    steps: int = 1500
    batch: int = 128
    lr: float = 1e-3
    seed: int = 0
    # Feed Θ's predicted 2D pose to Φ as well, when the self-supervised stage trained Θ (Eq. 15).
    use_2d: bool = True

    def __post_init__(self) -> None:
        if self.regressor not in REGRESSORS:
            raise DivekitError(f"unknown regressor {self.regressor!r}; choose one of {', '.join(REGRESSORS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise DivekitError(f"pose dropout must be in [0, 1), got {self.dropout}")
        if self.steps <= 0 or self.batch <= 0 or self.lr <= 0:
            raise DivekitError("pose steps, batch and lr must be positive")


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class PoseRegressor(nn.Module):
    """Φ: (B, in_dim) latent -> (B, 13, 3) pelvis-centred joints; inputs standardised by stored statistics."""

    def __init__(self, *, kind: str, in_dim: int, dropout: float = 0.5) -> None:
        super().__init__()
        assert kind in REGRESSORS and in_dim > 0, (kind, in_dim)
        out = N_JOINTS * 3
        if kind == "mlp":
            self.net = nn.Sequential(
                nn.Linear(in_dim, 2048), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(2048, 2048), nn.ReLU(), nn.Dropout(dropout),
                nn.Linear(2048, out),
            )  # fmt: skip
        else:
            self.net = nn.Sequential(
                nn.Linear(in_dim, 1024), *[ResidualBlock(1024, dropout) for _ in range(3)], nn.Linear(1024, out)
            )
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))

    def set_normalisation(self, x: Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0, unbiased=False).clamp_min(1e-6))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.mean) / self.std).view(-1, N_JOINTS, 3)


class Codes(NamedTuple):
    """Per-frame outputs of the frozen DiveNet on one clip."""

    boxes: np.ndarray  # (N, 4) s_x, s_y, u_x, u_y
    latent: np.ndarray  # (N, D) Φ's input


@torch.no_grad()
def clip_codes(
    net: DiveNet, theta: Theta | None, clip: Clip, variant: Variant, *, use_2d: bool = True, batch: int = 64
) -> Codes:
    """Boxes and Φ inputs for every frame of ``clip`` (eval mode, plain crops)."""
    was = net.training
    net.eval()
    background = frames_to_tensor(clip.background[None])
    boxes, latents = [], []
    for lo in range(0, len(clip), batch):
        frames = frames_to_tensor(clip.frames[lo : lo + batch])
        box, latent = latent_of(net, theta, frames, background.expand(len(frames), -1, -1, -1), variant, use_2d)
        boxes.append(box)
        latents.append(latent)
    net.train(was)
    return Codes(torch.cat(boxes).double().numpy(), torch.cat(latents).numpy())


def latent_of(
    net: DiveNet, theta: Theta | None, frames: Tensor, backgrounds: Tensor, variant: Variant, use_2d: bool
) -> tuple[Tensor, Tensor]:
    """(B,3,H,W) frames and backgrounds -> (B,4) boxes and (B,D) Φ inputs."""
    box = net.detect(frames, backgrounds)
    tv, ti = net.encode(net.crop(frames, box))
    latent = pose_latent(tv, ti, variant)
    if theta is not None and use_2d:
        latent = torch.cat([latent, theta(tv).flatten(1)], 1)
    return box, latent


def fit_regressor(x: np.ndarray, y: np.ndarray, cfg: PoseConfig) -> tuple[PoseRegressor, list[float]]:
    """Fit Φ by Eq. 15 on (N, D) latents and (N, 13, 3) pelvis-centred targets; returns Φ (eval) and its losses."""
    assert x.ndim == 2 and y.shape == (len(x), N_JOINTS, 3), (x.shape, y.shape)
    if len(x) == 0:
        raise DivekitError("no labelled frames to train the pose regressor on")
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).float()
    phi = PoseRegressor(kind=cfg.regressor, in_dim=x.shape[1], dropout=cfg.dropout)
    phi.set_normalisation(xt)
    optimiser = torch.optim.Adam(phi.parameters(), lr=cfg.lr)
    # the step size decays tenfold over the run: small label sets otherwise end on a noisy step
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda k: 0.1 ** (k / cfg.steps))
    losses = []
    phi.train()
    for _ in range(cfg.steps):
        idx = torch.randint(0, len(xt), (min(cfg.batch, len(xt)),), generator=generator)
        loss = pose3d_loss(phi(xt[idx]), yt[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    phi.eval()
    return phi, losses


@torch.no_grad()
def predict_poses(phi: PoseRegressor, latent: np.ndarray, batch: int = 1024) -> np.ndarray:
    """(N, D) latents -> (N, 13, 3) joints in metres."""
    phi.eval()
    out = [phi(torch.from_numpy(latent[lo : lo + batch]).float()) for lo in range(0, len(latent), batch)]
    return torch.cat(out).double().numpy() if out else np.zeros((0, N_JOINTS, 3))


class PoseModel(nn.Module):
    """Everything ``analyze`` needs: DiveNet, the optional Θ, and Φ, with their configs."""

    def __init__(
        self, net: DiveNet, theta: Theta | None, phi: PoseRegressor, variant: str, pose_cfg: PoseConfig
    ) -> None:
        super().__init__()
        self.net, self.theta, self.phi = net, theta, phi
        self.variant_name = variant
        self.variant = Variant.named(variant)
        self.pose_cfg = pose_cfg

    @torch.no_grad()
    def forward(self, frames: Tensor, backgrounds: Tensor) -> tuple[Tensor, Tensor]:
        """(B,3,H,W) frames and backgrounds in [0, 1] -> (B,4) boxes and (B,13,3) joints."""
        box, latent = latent_of(self.net, self.theta, frames, backgrounds, self.variant, self.pose_cfg.use_2d)
        return box, self.phi(latent)


def save_pose_model(path: Path, model: PoseModel, *, record: dict[str, Any], half: bool = False) -> None:
    """Write the pose model as a checkpoint of stage "pose" (``half``: float tensors stored as float16)."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    config = {
        **record,
        "stage": POSE_STAGE,
        "model": model.net.config.to_dict(),
        "variant": model.variant_name,
        "pose": asdict(model.pose_cfg),
        "theta_hidden": None if model.theta is None else model.theta.net[0].out_features,
        "phi_in_dim": model.phi.mean.numel(),
        "half": half,
    }
    save_checkpoint(path, config=config, state={"weights": state})


def load_pose_model(path: Path) -> tuple[PoseModel, dict[str, Any]]:
    """Read a pose model (a file, or a ``train`` run folder holding ``model.pt``) in float32, eval mode."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    record, state = load_checkpoint(path)
    if record.get("stage") != POSE_STAGE:
        raise DivekitError(f"{path} is a {record.get('stage')!r} checkpoint, not a pose model from `divekit train`")
    try:
        cfg = ModelConfig.from_dict(record["model"])
        pose_cfg = PoseConfig(**record["pose"])
        net = DiveNet(cfg)
        theta = Theta(cfg.tv_dim, record["theta_hidden"]) if record["theta_hidden"] else None
        phi = PoseRegressor(kind=pose_cfg.regressor, in_dim=int(record["phi_in_dim"]), dropout=pose_cfg.dropout)
        model = PoseModel(net, theta, phi, record["variant"], pose_cfg)
        weights = {k: v.float() if v.is_floating_point() else v for k, v in state["weights"].items()}
        model.load_state_dict(weights)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise DivekitError(f"{path} is an incomplete or mismatched pose model ({type(exc).__name__})") from None
    return model.eval(), record


__all__ = [
    "REGRESSORS",
    "PoseConfig",
    "PoseRegressor",
    "PoseModel",
    "Codes",
    "clip_codes",
    "latent_of",
    "fit_regressor",
    "predict_poses",
    "save_pose_model",
    "load_pose_model",
]
