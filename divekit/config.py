"""Configuration dataclasses for DiveNet and its losses, saved into every checkpoint.

Coordinates follow ``torch.nn.functional.affine_grid`` (align_corners=False): the frame spans
[-1, 1] in x (left to right) and in y (top to bottom, so y *increases* downwards). A box is
(s_x, s_y, u_x, u_y): u is its centre in those coordinates and s its full width/height as a
fraction of the frame width/height (s = 1 covers the whole frame).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from divekit.errors import DivekitError

BACKBONES_DETECTOR = ("small_cnn", "resnet18")
BACKBONES_ENCODER = ("small_cnn", "resnet50")
FEATURE_NETS = ("pyramid", "random", "resnet18", "none")


@dataclass
class ModelConfig:
    """Sizes of DiveNet. Defaults are the ``small`` preset, which trains on a 2-core CPU."""

    preset: str = "small"
    # Frame size the data pipeline resizes to, (width, height): portrait, diver falls top to bottom.
    frame_size: tuple[int, int] = (256, 512)
    # The detector sees the frame average-pooled by this factor (paper S.1.1: 4).
    detector_downsample: int = 4
    detector_backbone: str = "small_cnn"
    # Widths of the small_cnn detector convs (ignored by resnet18).
    detector_channels: tuple[int, ...] = (16, 32, 64, 64, 64)
    # Deviation from the paper: also feed frame - background (3 channels) to the detector, so a box
    # that does not overlap a small diver still gets a signal where to go (DESIGN.md, pitfalls).
    detector_uses_background: bool = True
    # With the background: add a learned multiple of each heatmap cell's background-difference score
    # to the detector's logits, so the first box is already what moved (see model.Detector).
    detector_energy: bool = True
    # The attention grid is the trunk's heatmap upsampled by this factor: at 256x512 the trunk's
    # 16x32 cells (16 px) gave boxes of the right size on 70 % of held-out flight frames before
    # training, 32x64 cells on 99 % (benchmarks/bench_detection.py, step 0).
    detector_heat_upsample: int = 2
    # Bounds of s (box size / frame size); the sigmoid parameterisation keeps s strictly inside.
    scale_min: float = 0.02
    scale_max: float = 1.0
    # Side of the square crop the encoder sees (paper: 128). Must be a multiple of 16.
    crop_size: int = 64
    encoder_backbone: str = "small_cnn"
    # Widths of the four stages of the small_cnn encoder (ignored by resnet50).
    encoder_channels: tuple[int, ...] = (32, 64, 128, 256)
    tv_dim: int = 128
    ti_dim: int = 32
    # Maps per latent part at (crop/8)^2 in the decoder (paper: 128 maps of 16x16 for tv and for ti).
    decoder_seed_channels: int = 32
    # Output widths of the three upsampling stages (paper: 128, 64, 32).
    decoder_channels: tuple[int, int, int] = (64, 32, 16)
    dropout: float = 0.1
    # Reconstruct (Eq. 1) at frame / recon_downsample to save CPU; 1 = full resolution as in the paper.
    recon_downsample: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise DivekitError naming the first inconsistent field."""
        if self.detector_backbone not in BACKBONES_DETECTOR:
            raise DivekitError(f"detector_backbone must be one of {BACKBONES_DETECTOR}, got {self.detector_backbone!r}")
        if self.encoder_backbone not in BACKBONES_ENCODER:
            raise DivekitError(f"encoder_backbone must be one of {BACKBONES_ENCODER}, got {self.encoder_backbone!r}")
        if self.detector_downsample < 1 or self.recon_downsample < 1:
            raise DivekitError("detector_downsample and recon_downsample must be at least 1")
        w, h = self.frame_size
        step = self.detector_downsample * self.recon_downsample
        if w <= 0 or h <= 0 or w % step or h % step:
            raise DivekitError(f"frame_size {self.frame_size} must be positive multiples of {step}")
        if self.crop_size <= 0 or self.crop_size % 16:
            raise DivekitError(f"crop_size must be a positive multiple of 16, got {self.crop_size}")
        if not 0.0 < self.scale_min < self.scale_max:
            raise DivekitError(f"need 0 < scale_min < scale_max, got {self.scale_min}, {self.scale_max}")
        if self.detector_heat_upsample < 1:
            raise DivekitError(f"detector_heat_upsample must be at least 1, got {self.detector_heat_upsample}")
        if len(self.decoder_channels) != 3:
            raise DivekitError("decoder_channels must have exactly 3 entries (three upsampling stages)")
        if len(self.encoder_channels) != 4:
            raise DivekitError("encoder_channels must have exactly 4 entries")
        if not 0.0 <= self.dropout < 1.0:
            raise DivekitError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, d)


@dataclass
class LossConfig:
    """Weights of the training losses (paper Eq. 2, 12, 14 and S.1)."""

    lam: float = 2.0  # λ, pixel term of Eq. 2
    rho: float = 2.0  # ρ, feature term of Eq. 2
    alpha: float = 0.01  # α, DSL weight in Eq. 14
    # γ, tracking weight in Eq. 14. The paper uses 1; here the reconstruction is weaker (small model,
    # CPU budget) and at 1 the tracking losses pull boxes towards a static frame-sized box: after 10
    # minutes 90.9 % of held-out flight frames at IoU >= 0.5 and 29.1 % at 0.7, against 97-99 % and
    # 53-65 % at 0.1 (benchmarks/results/detection*, bench_detection.py).
    gamma: float = 0.1
    eta: float = 10.0  # η, 2D pose weight in Eq. 14
    # τ of Eq. 10 in normalised units (the frame height is 2): minimum downward centre motion
    # between consecutive frames of a gravity quad.
    order_margin: float = 0.01
    # Feature net of Eq. 2: "pyramid" (parameter-free), "random" (frozen random ResNet-18),
    # "resnet18" (ImageNet weights from feature_weights, a local torchvision .pth), "none".
    feature_net: str = "pyramid"
    feature_weights: str | None = None
    # Gaussian prior on the batch-mean box (S.1), off by default: weight * ||mean - target||^2.
    bbox_size_weight: float = 0.0
    bbox_size_target: tuple[float, float] = (0.5, 0.25)  # (s_x, s_y)
    bbox_centre_weight: float = 0.0
    bbox_centre_target: tuple[float, float] = (0.0, 0.0)  # (u_x, u_y)

    def __post_init__(self) -> None:
        if self.feature_net not in FEATURE_NETS:
            raise DivekitError(f"feature_net must be one of {FEATURE_NETS}, got {self.feature_net!r}")
        if self.feature_net == "resnet18" and not self.feature_weights:
            raise DivekitError("feature_net 'resnet18' needs feature_weights (a local torchvision .pth file)")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LossConfig:
        return _from_dict(cls, d)


PRESETS: dict[str, dict[str, Any]] = {
    "small": {},
    # Paper S.1.1: ResNet-18 detector on frame/4, ResNet-50 encoder, 128x128 crop, tv 900 / ti 129,
    # decoder 256x16^2 -> 128x32^2 -> 64x64^2 -> 32x128^2 -> 4x128^2; frames near the paper's 500x1000.
    "paper": dict(
        frame_size=(512, 1024),
        detector_backbone="resnet18",
        detector_heat_upsample=4,  # ResNet-18 to layer3 has stride 16: 8x16 cells at 512x1024
        crop_size=128,
        encoder_backbone="resnet50",
        tv_dim=900,
        ti_dim=129,
        decoder_seed_channels=128,
        decoder_channels=(128, 64, 32),
        dropout=0.1,
        recon_downsample=1,
    ),
}


def preset(name: str, **overrides: Any) -> ModelConfig:
    """The ModelConfig of a named preset ("small" or "paper"), with optional field overrides."""
    from divekit.runconfig import build

    if not isinstance(name, str) or name not in PRESETS:
        raise DivekitError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return build(ModelConfig, {**PRESETS[name], "preset": name, **overrides}, where="[model]")


def _to_dict(cfg: Any) -> dict[str, Any]:
    return {f.name: (list(v) if isinstance(v := getattr(cfg, f.name), tuple) else v) for f in dataclasses.fields(cfg)}


def _from_dict(cls: type, d: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in d:
        if key not in names:
            raise DivekitError(f"unknown {cls.__name__} key {key!r}")
    kwargs = {}
    for key, value in d.items():
        # JSON turns tuples into lists; restore them so configs compare equal after a round trip.
        if typing.get_origin(hints[key]) is tuple and isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


__all__ = ["ModelConfig", "LossConfig", "PRESETS", "preset"]
