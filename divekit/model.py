"""DiveNet: detector (STN) -> crop -> encoder (tv, ti) -> decoder (RGB + mask) -> uncrop -> composite (Eq. 1).

Shapes: frames and backgrounds are float (B,3,H,W) in [0, 1]. A box is (B,4) = (s_x, s_y, u_x, u_y)
in ``affine_grid`` coordinates (align_corners=False): the frame spans [-1, 1] left->right and
top->bottom, so u_y *increases* as the diver falls; s is the box's full width/height as a fraction
of the frame's (s = 1 is the whole frame). The crop is ``grid_sample(frame, affine_grid(θ))`` with
θ = [[s_x, 0, u_x], [0, s_y, u_y]], which maps the crop's [-1, 1] onto [u - s, u + s] — a span of
2s out of the frame's 2, i.e. the fraction s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divekit.config import ModelConfig
from divekit.features import resnet18, resnet50


def conv_block(cin: int, cout: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 conv + GroupNorm + ReLU; GroupNorm so a frame's output does not depend on its batch."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.GroupNorm(min(8, cout), cout),
        nn.ReLU(inplace=True),
    )


def _downsample(x: Tensor, factor: int) -> Tensor:
    if factor == 1:
        return x
    if x.shape[-2] % factor == 0 and x.shape[-1] % factor == 0:
        return F.avg_pool2d(x, factor)  # exact box filter: alias-free and cheap
    size = (x.shape[-2] // factor, x.shape[-1] // factor)
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def box_theta(box: Tensor) -> Tensor:
    """(B,4) box (s_x, s_y, u_x, u_y) -> (B,2,3) affine θ mapping crop coordinates to frame coordinates."""
    assert box.ndim == 2 and box.shape[1] == 4, box.shape
    sx, sy, ux, uy = box.unbind(1)
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, zero, ux], 1), torch.stack([zero, sy, uy], 1)], 1)


def crop(frame: Tensor, box: Tensor, size: int | tuple[int, int]) -> Tensor:
    """(B,C,H,W) frame, (B,4) box -> (B,C,h,w) crop (size int = square); outside the frame is zero."""
    assert frame.ndim == 4 and box.shape == (frame.shape[0], 4), (frame.shape, box.shape)
    h, w = (size, size) if isinstance(size, int) else size
    grid = F.affine_grid(box_theta(box), [frame.shape[0], frame.shape[1], h, w], align_corners=False)
    return F.grid_sample(frame, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def uncrop(crop_rgb: Tensor, crop_mask: Tensor, box: Tensor, frame_size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """Inverse STN: (B,3,h,w) RGB and (B,1,h,w) mask -> (B,3,H,W), (B,1,H,W); frame_size = (H, W).

    Frame point p comes from crop point (p - u) / s; outside the box the mask is zero (zeros padding).
    """
    assert crop_rgb.ndim == 4 and crop_rgb.shape[1] == 3 and crop_mask.shape[1] == 1, (crop_rgb.shape, crop_mask.shape)
    assert box.shape == (crop_rgb.shape[0], 4), box.shape
    sx, sy, ux, uy = box.unbind(1)
    inv = torch.stack([1.0 / sx, 1.0 / sy, -ux / sx, -uy / sy], 1)
    theta = box_theta(inv)
    grid = F.affine_grid(theta, [crop_rgb.shape[0], 4, *frame_size], align_corners=False)
    out = F.grid_sample(
        torch.cat([crop_rgb, crop_mask], 1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return out[:, :3], out[:, 3:]


def composite(rgb: Tensor, mask: Tensor, background: Tensor) -> Tensor:
    """Eq. 1: Ĩ = M·D + (1 − M)·B, with (B,3,H,W) rgb and background and (B,1,H,W) mask."""
    assert rgb.shape == background.shape and mask.shape[1] == 1 and mask.shape[-2:] == rgb.shape[-2:]
    return mask * rgb + (1.0 - mask) * background


def color_jitter(
    crop: Tensor,
    generator: torch.Generator,
    *,
    brightness: float = 0.3,
    contrast: float = 0.3,
    saturation: float = 0.3,
    channel_gain: float = 0.1,
) -> Tensor:
    """Per-sample brightness, contrast, saturation and per-channel gain (a cheap hue shift) of (B,3,h,w) crops.

    Factors are drawn uniformly in [1 - a, 1 + a] on the CPU from ``generator``, so the result is
    deterministic given the generator state. Output clamped to [0, 1].
    """
    assert crop.ndim == 4 and crop.shape[1] == 3, crop.shape
    b = crop.shape[0]

    def draw(amount: float, *shape: int) -> Tensor:
        u = torch.rand(b, *shape, generator=generator) * 2.0 - 1.0
        return (1.0 + amount * u).to(crop.device, crop.dtype)

    x = crop * draw(brightness, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * draw(contrast, 1, 1, 1) + mean
    gray = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:]
    x = (x - gray) * draw(saturation, 1, 1, 1) + gray
    x = x * draw(channel_gain, 3, 1, 1)
    return x.clamp(0.0, 1.0)


def foreground_energy(frame: Tensor, background: Tensor, size: tuple[int, int]) -> Tensor:
    """(B,1,h,w) how unlike the background each cell is: robust standard deviations above 3, in [0, 8].

    The per-pixel difference (largest over channels) is average-pooled to ``size`` and scaled by
    its own median and MAD over the image, so lighting, noise and codec differences that cover the
    whole frame score zero and a diver scores high. (Measured on the held-out sample clips with an
    untrained detector: no offset and gain 1 let water shimmer spread the attention, boxes 2.4x
    too tall; offset 3 and gain 2 give boxes of the right size, 70 % of flight frames at IoU 0.5.)
    """
    diff = (frame - background).abs().amax(1, keepdim=True)
    diff = F.adaptive_avg_pool2d(diff, size)
    flat = diff.flatten(1)
    med = flat.median(1).values.view(-1, 1, 1, 1)
    mad = (flat - med.view(-1, 1)).abs().median(1).values.view(-1, 1, 1, 1)
    return ((diff - med) / (1.4826 * mad + 2.0 / 255.0) - 3).clamp(0.0, 8.0)


def cell_centres(n: int, like: Tensor) -> Tensor:
    """(n,) centres of n equal cells across [-1, 1] (affine_grid units), as ``like``'s dtype and device."""
    return (torch.arange(n, device=like.device, dtype=like.dtype) * 2 + 1) / n - 1


class Detector(nn.Module):
    """STN S: frame (+ frame − background) downsampled -> box (s_x, s_y, u_x, u_y), bounded.

    A fully convolutional trunk gives a heatmap over cells; its spatial softmax is an attention
    map. The box centre u is the attention's mean (soft-argmax, strictly inside (-1, 1)) and the
    box size its spread: s = κ·σ·exp(δ), with σ the attention's standard deviation per axis, κ a
    learned gain (initially 2, a box of ±2σ) and δ a learned correction from the attended features
    (initially 0), smoothly bounded to (scale_min, scale_max).

    With the background (``in_channels`` 6) and ``energy``, the heatmap also gets β·E, the foreground energy of
    each cell (``foreground_energy``, β learned, initially 2): a box that does not overlap a small
    diver still knows where to look (DESIGN.md, "Measured pitfalls"). So the initial box is the
    extent of what differs from the background, and the whole frame when nothing does.
    """

    def __init__(
        self,
        *,
        backbone: str,
        in_channels: int,
        downsample: int,
        scale_min: float,
        scale_max: float,
        channels: tuple[int, ...] = (16, 32, 64, 64, 64),
        heat_upsample: int = 1,
        energy: bool = True,
    ) -> None:
        super().__init__()
        assert backbone in ("small_cnn", "resnet18"), backbone
        assert heat_upsample >= 1
        self.heat_upsample = heat_upsample
        assert in_channels in (3, 6) and downsample >= 1
        assert 0 < scale_min < scale_max, (scale_min, scale_max)
        self.in_channels, self.downsample = in_channels, downsample
        self.scale_min, self.scale_max = scale_min, scale_max
        if backbone == "small_cnn":
            assert len(channels) >= 3
            # Two stride-2 convs (stride 4 on the detector input), then dilated convs to widen the
            # receptive field without losing heatmap resolution.
            layers, cin = [], in_channels
            for i, c in enumerate(channels):
                layers.append(conv_block(cin, c, stride=2 if i < 2 else 1, dilation=1 if i < 2 else 2 ** (i - 2)))
                cin = c
            self.trunk = nn.Sequential(*layers)
            feat = cin
        else:
            # ResNet-18 up to layer3 (stride 16): layer4's stride 32 leaves too few heatmap cells.
            self.trunk = resnet18(num_classes=None, in_channels=in_channels, num_stages=3)
            feat = self.trunk.out_channels
        self.heat = nn.Conv2d(feat, 1, 1)
        self.scale = nn.Linear(feat, 2)
        nn.init.zeros_(self.heat.weight)
        nn.init.zeros_(self.heat.bias)
        nn.init.zeros_(self.scale.weight)
        nn.init.zeros_(self.scale.bias)
        self.log_spread_gain = nn.Parameter(torch.full((2,), math.log(2.0)))
        self.energy_gain = nn.Parameter(torch.ones(()) * 2.0) if in_channels == 6 and energy else None

    def inputs(self, frame: Tensor, background: Tensor | None) -> Tensor:
        """The trunk's input: the frame and, with 6 channels, frame − background, at 1/downsample.
        The downsampling is linear, so the two are subtracted small: the full-size difference is
        never built, and a background shared by the batch (expanded) is downsampled once."""
        small = _downsample(frame, self.downsample)
        if self.in_channels == 3:
            return small
        if background.shape[0] > 1 and background.stride(0) == 0:
            small_bg = _downsample(background[:1], self.downsample).expand(len(frame), -1, -1, -1)
        else:
            small_bg = _downsample(background, self.downsample)
        return torch.cat([small, small - small_bg], 1)

    def forward(self, frame: Tensor, background: Tensor | None = None) -> Tensor:
        return self.attend(frame, background)[0]

    def attend(self, frame: Tensor, background: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(box (B,4), the attention's log-probabilities (B,h,w) over its grid of cells)."""
        assert frame.ndim == 4 and frame.shape[1] == 3, frame.shape
        assert self.in_channels == 3 or (background is not None and background.shape == frame.shape), (
            "this detector needs the background"
        )
        f = self.trunk(self.inputs(frame, background))
        logits = self.heat(f)
        if self.heat_upsample > 1:  # a finer grid for the attention than for the features
            logits = F.interpolate(logits, scale_factor=self.heat_upsample, mode="bilinear", align_corners=False)
            f = F.interpolate(f, scale_factor=self.heat_upsample, mode="nearest")
        b, _, h, w = logits.shape
        if self.energy_gain is not None:
            logits = logits + self.energy_gain * foreground_energy(frame, background, (h, w))
        log_attn = F.log_softmax(logits.flatten(1), dim=1)  # (B, h*w)
        attn = log_attn.exp()
        ys = cell_centres(h, f).repeat_interleave(w)
        xs = cell_centres(w, f).repeat(h)
        ux, uy = attn @ xs, attn @ ys
        # spread of the attention; a cell's own width (2/w, uniform: variance (2/w)²/12) is the least
        var_x = (attn @ xs.square() - ux.square()).clamp_min(0) + (2 / w) ** 2 / 12
        var_y = (attn @ ys.square() - uy.square()).clamp_min(0) + (2 / h) ** 2 / 12
        sigma = torch.stack([var_x, var_y], 1).sqrt()
        pooled = torch.einsum("bn,bcn->bc", attn, f.flatten(2))
        raw = self.log_spread_gain.exp() * sigma * self.scale(pooled).clamp(-10.0, 10.0).exp()
        span = self.scale_max - self.scale_min
        s = self.scale_min + span * torch.tanh(raw / span)
        return torch.stack([s[:, 0], s[:, 1], ux, uy], 1), log_attn.view(b, h, w)


class Encoder(nn.Module):
    """E_tv and E_ti: one shared trunk, two linear output heads (paper §3.1)."""

    def __init__(
        self,
        *,
        backbone: str,
        crop_size: int,
        tv_dim: int,
        ti_dim: int,
        channels: tuple[int, ...] = (32, 64, 128, 256),
    ) -> None:
        super().__init__()
        assert backbone in ("small_cnn", "resnet50"), backbone
        assert crop_size % 16 == 0 and tv_dim > 0 and ti_dim > 0
        if backbone == "small_cnn":
            assert len(channels) == 4
            layers, cin = [], 3
            for c in channels:
                layers += [conv_block(cin, c, stride=2), conv_block(c, c)]
                cin = c
            # Flatten rather than average-pool: where a limb is in the crop is pose information.
            self.trunk = nn.Sequential(*layers, nn.Flatten())
            feat = cin * (crop_size // 16) ** 2
        else:
            self.trunk = nn.Sequential(resnet50(num_classes=None), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            feat = self.trunk[0].out_channels
        self.tv = nn.Linear(feat, tv_dim)
        self.ti = nn.Linear(feat, ti_dim)

    def encode(self, crop_for_tv: Tensor, crop_for_ti: Tensor) -> tuple[Tensor, Tensor]:
        """(B,3,c,c) crops -> tv (B,tv_dim) from the first, ti (B,ti_dim) from the second."""
        assert crop_for_tv.shape == crop_for_ti.shape, (crop_for_tv.shape, crop_for_ti.shape)
        if crop_for_tv is crop_for_ti:
            h = self.trunk(crop_for_tv)
            return self.tv(h), self.ti(h)
        h = self.trunk(torch.cat([crop_for_tv, crop_for_ti], 0))
        h_tv, h_ti = h.chunk(2, 0)
        return self.tv(h_tv), self.ti(h_ti)

    def forward(self, crop: Tensor) -> tuple[Tensor, Tensor]:
        return self.encode(crop, crop)


class Decoder(nn.Module):
    """D (paper S.1.1): tv, ti -> FC+ReLU+dropout each -> maps at crop/8 -> 3 × (bilinear ×2, three 3×3
    convs + ReLU) -> 3×3 conv to RGB (sigmoid) and mask (sigmoid) at the crop size."""

    def __init__(
        self,
        *,
        tv_dim: int,
        ti_dim: int,
        crop_size: int,
        seed_channels: int,
        channels: tuple[int, int, int],
        dropout: float,
    ) -> None:
        super().__init__()
        assert crop_size % 8 == 0 and len(channels) == 3 and 0.0 <= dropout < 1.0
        self.seed_channels, self.seed = seed_channels, crop_size // 8
        n = seed_channels * self.seed**2
        self.fc_tv = nn.Sequential(nn.Linear(tv_dim, n), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.fc_ti = nn.Sequential(nn.Linear(ti_dim, n), nn.ReLU(inplace=True), nn.Dropout(dropout))
        stages, cin = [], 2 * seed_channels
        for c in channels:
            stages.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                    nn.Conv2d(cin, c, 3, padding=1),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c, c, 3, padding=1),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c, c, 3, padding=1),
                    nn.ReLU(inplace=True),
                )
            )
            cin = c
        self.stages = nn.Sequential(*stages)
        self.out = nn.Conv2d(cin, 4, 3, padding=1)

    def forward(self, tv: Tensor, ti: Tensor) -> tuple[Tensor, Tensor]:
        """(B,tv_dim), (B,ti_dim) -> RGB (B,3,c,c) and mask (B,1,c,c), both in (0, 1)."""
        assert tv.shape[0] == ti.shape[0], (tv.shape, ti.shape)
        shape = (tv.shape[0], self.seed_channels, self.seed, self.seed)
        x = torch.cat([self.fc_tv(tv).view(shape), self.fc_ti(ti).view(shape)], 1)
        y = torch.sigmoid(self.out(self.stages(x)))
        return y[:, :3], y[:, 3:]


class DiveOutput(NamedTuple):
    box: Tensor  # (B,4) s_x, s_y, u_x, u_y
    crop: Tensor  # (B,3,c,c) un-jittered crop
    tv: Tensor  # (B,tv_dim)
    ti: Tensor  # (B,ti_dim), after the optional ti_perm
    crop_rgb: Tensor  # (B,3,c,c) decoded D_crop
    crop_mask: Tensor  # (B,1,c,c) decoded M_crop
    mask: Tensor  # (B,1,H/r,W/r) M in the frame, r = recon_downsample
    recon: Tensor  # (B,3,H/r,W/r) Ĩ of Eq. 1
    target: Tensor  # (B,3,H/r,W/r) the input frame at the reconstruction resolution, for Eq. 2
    attention: Tensor  # (B,h,w) the detector's attention, log-probabilities over its cells


class DiveNet(nn.Module):
    """Detector + Encoder + Decoder, built from a ModelConfig (saved in checkpoints to rebuild)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.detector = Detector(
            backbone=config.detector_backbone,
            in_channels=6 if config.detector_uses_background else 3,
            downsample=config.detector_downsample,
            scale_min=config.scale_min,
            scale_max=config.scale_max,
            heat_upsample=config.detector_heat_upsample,
            energy=config.detector_energy,
            channels=config.detector_channels,
        )
        self.encoder = Encoder(
            backbone=config.encoder_backbone,
            crop_size=config.crop_size,
            tv_dim=config.tv_dim,
            ti_dim=config.ti_dim,
            channels=config.encoder_channels,
        )
        self.decoder = Decoder(
            tv_dim=config.tv_dim,
            ti_dim=config.ti_dim,
            crop_size=config.crop_size,
            seed_channels=config.decoder_seed_channels,
            channels=config.decoder_channels,
            dropout=config.dropout,
        )

    def detect(self, frame: Tensor, background: Tensor | None = None) -> Tensor:
        return self.detector(frame, background)

    def crop(self, frame: Tensor, box: Tensor) -> Tensor:
        return crop(frame, box, self.config.crop_size)

    def encode(self, crop_for_tv: Tensor, crop_for_ti: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.encoder.encode(crop_for_tv, crop_for_tv if crop_for_ti is None else crop_for_ti)

    def decode(self, tv: Tensor, ti: Tensor) -> tuple[Tensor, Tensor]:
        return self.decoder(tv, ti)

    def uncrop(
        self, crop_rgb: Tensor, crop_mask: Tensor, box: Tensor, frame_size: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        return uncrop(crop_rgb, crop_mask, box, frame_size)

    def forward(
        self,
        frame: Tensor,
        background: Tensor,
        *,
        ti_perm: Tensor | None = None,
        jitter: Callable[[Tensor], Tensor] | None = None,
    ) -> DiveOutput:
        """(B,3,H,W) frames and backgrounds in [0, 1] -> DiveOutput.

        ``jitter`` (e.g. ``lambda c: color_jitter(c, gen)``) makes the crop E_tv sees; ``ti_perm``
        (B,) swaps ti across the batch before decoding (§3.1.3), so frame i is decoded with the
        appearance of frame ti_perm[i]; the reconstruction is still compared with frame i.
        """
        assert frame.ndim == 4 and frame.shape[1] == 3 and background.shape == frame.shape, (
            frame.shape,
            background.shape,
        )
        box, attention = self.detector.attend(frame, background)
        crop_ = self.crop(frame, box)
        tv, ti = self.encode(crop_ if jitter is None else jitter(crop_), crop_)
        if ti_perm is not None:
            assert ti_perm.shape == (frame.shape[0],), ti_perm.shape
            ti = ti[ti_perm]
        crop_rgb, crop_mask = self.decode(tv, ti)
        r = self.config.recon_downsample
        size = (frame.shape[-2] // r, frame.shape[-1] // r)
        rgb, mask = self.uncrop(crop_rgb, crop_mask, box, size)
        target, bg = _downsample(frame, r), _downsample(background, r)
        recon = composite(rgb, mask, bg)
        return DiveOutput(box, crop_, tv, ti, crop_rgb, crop_mask, mask, recon, target, attention)


def count_parameters(module: nn.Module, *, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_table(model: DiveNet) -> dict[str, int]:
    """Trainable parameters per role, for logs and benchmarks."""
    parts = {"detector": model.detector, "encoder": model.encoder, "decoder": model.decoder}
    table = {k: count_parameters(v) for k, v in parts.items()}
    table["total"] = count_parameters(model)
    return table


__all__ = [
    "Detector",
    "Encoder",
    "Decoder",
    "DiveNet",
    "DiveOutput",
    "crop",
    "uncrop",
    "composite",
    "box_theta",
    "color_jitter",
    "count_parameters",
    "parameter_table",
]
