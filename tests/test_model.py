"""DiveNet shapes, geometry of crop/uncrop, Eq. 1, detector bounds, configs and the ResNet naming."""

import json
import math

import pytest
import torch

from divekit.config import LossConfig, ModelConfig, preset
from divekit.errors import DivekitError
from divekit.features import build_feature_extractor, resnet18, resnet50
from divekit.losses import reconstruction_loss
from divekit.model import (
    Decoder,
    Detector,
    DiveNet,
    Encoder,
    _downsample,
    color_jitter,
    composite,
    count_parameters,
    crop,
    foreground_energy,
    uncrop,
)

SMALL = dict(frame_size=(64, 128))  # the small architecture on tiny frames, to keep tests fast


def _frames(b, cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    w, h = cfg.frame_size
    return torch.rand(b, 3, h, w, generator=g), torch.rand(b, 3, h, w, generator=g)


@pytest.mark.parametrize("name", ["small", "paper"])
def test_forward_backward_shapes(name):
    torch.manual_seed(0)
    cfg = preset(name)
    model = DiveNet(cfg)
    b = 2
    frame, bg = _frames(b, cfg)
    gen = torch.Generator().manual_seed(1)
    out = model(frame, bg, ti_perm=torch.tensor([1, 0]), jitter=lambda c: color_jitter(c, gen))
    w, h = cfg.frame_size
    r, c = cfg.recon_downsample, cfg.crop_size
    assert out.box.shape == (b, 4)
    assert out.crop.shape == (b, 3, c, c) and out.crop_rgb.shape == (b, 3, c, c)
    assert out.crop_mask.shape == (b, 1, c, c)
    assert out.tv.shape == (b, cfg.tv_dim) and out.ti.shape == (b, cfg.ti_dim)
    assert out.recon.shape == (b, 3, h // r, w // r) == out.target.shape
    assert out.mask.shape == (b, 1, h // r, w // r)
    reconstruction_loss(out.target, out.recon, None, lam=2.0, rho=2.0).backward()
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_preset_sizes():
    small, paper = preset("small"), preset("paper")
    assert (small.crop_size, small.tv_dim, small.ti_dim) == (64, 128, 32)
    assert (paper.crop_size, paper.tv_dim, paper.ti_dim) == (128, 900, 129)
    assert paper.detector_backbone == "resnet18" and paper.encoder_backbone == "resnet50"
    assert count_parameters(DiveNet(small)) < 5_000_000
    with pytest.raises(DivekitError, match="huge"):
        preset("huge")


def test_paper_decoder_shapes():
    # S.1.1: 256×16² -> 128×32² -> 64×64² -> 32×128² -> 4×128²
    dec = Decoder(tv_dim=900, ti_dim=129, crop_size=128, seed_channels=128, channels=(128, 64, 32), dropout=0.0)
    assert dec.fc_tv[0].out_features == 32768 and dec.fc_ti[0].out_features == 32768
    x = torch.zeros(1, 256, 16, 16)
    sizes = []
    for stage in dec.stages:
        x = stage(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes == [(128, 32, 32), (64, 64, 64), (32, 128, 128)]
    assert dec.out(x).shape == (1, 4, 128, 128)


def test_crop_uncrop_round_trip():
    frame = torch.rand(1, 3, 64, 64)
    # θ maps the crop's [-1, 1] to [u - s, u + s]. x: u = 0.25, s = 0.5 -> [-0.25, 0.75] -> pixels
    # [(−0.25+1)/2·64, (0.75+1)/2·64) = [24, 56); y: u = -0.25, s = 0.25 -> [-0.5, 0] -> [16, 32).
    # A 16-row, 32-column box on the pixel grid: sampling it at 16×32 reads the pixels exactly.
    box = torch.tensor([[0.5, 0.25, 0.25, -0.25]])
    patch = crop(frame, box, (16, 32))
    torch.testing.assert_close(patch, frame[:, :, 16:32, 24:56])
    rgb, mask = uncrop(patch, torch.ones(1, 1, 16, 32), box, (64, 64))
    inside = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    inside[:, :, 16:32, 24:56] = True
    torch.testing.assert_close(rgb[inside.expand_as(rgb)], frame[inside.expand_as(frame)])
    assert mask[inside].min() > 1 - 1e-5 and mask[~inside].abs().max() < 1e-5
    assert rgb[~inside.expand_as(rgb)].abs().max() < 1e-5


def test_unit_box_is_identity():
    frame = torch.rand(2, 3, 16, 16)
    box = torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 2)
    torch.testing.assert_close(crop(frame, box, 16), frame)
    rgb, mask = uncrop(frame, torch.ones(2, 1, 16, 16), box, (16, 16))
    torch.testing.assert_close(rgb, frame)
    torch.testing.assert_close(mask, torch.ones(2, 1, 16, 16))


def test_composite_eq1_by_hand():
    rgb = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    bg = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    mask = torch.tensor([0.25, 0.5]).view(1, 1, 1, 2)
    # pixel 0: 0.25·1 + 0.75·0 = 0.25 ; pixel 1: 0.5·0.5 + 0.5·1 = 0.75
    out = composite(rgb, mask, bg)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([[0.25, 0.75]] * 3))


@pytest.mark.parametrize("backbone", ["small_cnn", "resnet18"])
def test_detector_initial_box_and_bounds(backbone):
    det = Detector(backbone=backbone, in_channels=6, downsample=4, scale_min=0.05, scale_max=0.9)
    frame = torch.rand(3, 3, 128, 64)
    box = det(frame, frame.clone())
    # nothing differs from the background: uniform attention, centred, as wide as the frame:
    # σ² = (1 - 1/n²)/3 + (2/n)²/12 = 1/3 for n cells, raw s = 2σ, bounded by 0.05 + 0.85·tanh(raw/0.85)
    expected = 0.05 + 0.85 * math.tanh(2 / math.sqrt(3) / 0.85)
    torch.testing.assert_close(box, torch.tensor([[expected, expected, 0.0, 0.0]] * 3))
    with torch.no_grad():
        for p in det.parameters():
            p.normal_(0, 50.0)  # extreme weights: saturated softmax and exp
    box = det(frame, torch.rand(3, 3, 128, 64))
    assert torch.isfinite(box).all()
    eps = 1e-6  # float32 rounding of scale_min + span·tanh
    assert (box[:, :2] >= 0.05 - eps).all() and (box[:, :2] <= 0.9 + eps).all()
    assert (box[:, 2:].abs() < 1.0).all()


def test_detector_starts_on_what_differs_from_the_background():
    det = Detector(backbone="small_cnn", in_channels=6, downsample=4, scale_min=0.02, scale_max=1.0)
    background = torch.full((1, 3, 256, 128), 0.5)
    frame = background.clone()
    frame[:, :, 160:192, 32:64] = 1.0  # a 32x32 "diver": rows 160-192, columns 32-64
    sx, sy, ux, uy = det(frame, background)[0].tolist()
    # its centre (48, 176) px is (48/128·2-1, 176/256·2-1) = (-0.25, 0.375) in affine_grid units
    assert abs(ux + 0.25) < 0.06 and abs(uy - 0.375) < 0.06
    # and the box is about its size (32/128 = 0.25 of the width, 32/256 = 0.125 of the height)
    assert 0.15 < sx < 0.45 and 0.07 < sy < 0.25


@pytest.mark.parametrize("size", [(128, 64), (130, 66)])  # divisible by 4 (box filter), and not (antialiased)
def test_detector_inputs_subtract_after_downsampling(size):
    # The trunk sees the frame and frame - background at 1/4: subtracting after the (linear)
    # downsampling gives what downsampling the full-size difference gives, for a background
    # per frame and for one expanded over the batch.
    det = Detector(backbone="small_cnn", in_channels=6, downsample=4, scale_min=0.05, scale_max=0.9)
    g = torch.Generator().manual_seed(0)
    frame, background = torch.rand(3, 3, *size, generator=g), torch.rand(3, 3, *size, generator=g)
    shared = background[:1].expand(3, -1, -1, -1)
    for bg in (background, shared):
        expected = _downsample(torch.cat([frame, frame - bg], 1), 4)  # the full-size difference, downsampled
        torch.testing.assert_close(det.inputs(frame, bg), expected, atol=1e-6, rtol=0)


def test_detector_needs_background_when_configured():
    det = Detector(backbone="small_cnn", in_channels=6, downsample=4, scale_min=0.05, scale_max=0.9)
    with pytest.raises(AssertionError):
        det(torch.rand(1, 3, 64, 64))
    det3 = Detector(backbone="small_cnn", in_channels=3, downsample=4, scale_min=0.05, scale_max=0.9)
    assert det3(torch.rand(1, 3, 64, 64)).shape == (1, 4)


def test_foreground_energy_ignores_global_changes():
    background = torch.rand(1, 3, 64, 64)
    brighter = (background * 1.05).clamp(0, 1)
    assert float(foreground_energy(brighter, background, (8, 8)).max()) < 3.0
    frame = background.clone()
    frame[:, :, :8, :8] = 1 - frame[:, :, :8, :8]
    energy = foreground_energy(frame, background, (8, 8))
    assert float(energy[0, 0, 0, 0]) > 3.0 and float(energy[0, 0, 4:, 4:].max()) == 0.0


def test_reconstruction_gradient_reaches_the_box():
    torch.manual_seed(0)
    cfg = preset("small", **SMALL)
    model = DiveNet(cfg)
    frame, bg = _frames(2, cfg)
    frame[:, :, 40:60, 20:40] = 0.0  # a dark "diver" so the loss depends on where the box is
    out = model(frame, bg)
    out.box.retain_grad()
    loss = reconstruction_loss(out.target, out.recon, build_feature_extractor("pyramid"), lam=2.0, rho=2.0)
    loss.backward()
    assert (out.box.grad.abs() > 0).all()
    assert model.detector.heat.weight.grad.abs().sum() > 0
    assert model.detector.scale.weight.grad.abs().sum() > 0


def test_determinism_with_seed():
    cfg = preset("small", **SMALL)
    frame, bg = _frames(2, cfg)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = DiveNet(cfg)
        gen = torch.Generator().manual_seed(7)
        outs.append(model(frame, bg, jitter=lambda c, g=gen: color_jitter(c, g)).recon)  # dropout drawn from the seed
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_encoder_fast_path_matches_two_crop_path():
    enc = Encoder(backbone="small_cnn", crop_size=32, tv_dim=8, ti_dim=4).eval()
    x = torch.rand(3, 3, 32, 32)
    tv1, ti1 = enc.encode(x, x)
    tv2, ti2 = enc.encode(x, x.clone())
    torch.testing.assert_close(tv1, tv2)
    torch.testing.assert_close(ti1, ti2)


def test_ti_perm_swaps_appearance():
    cfg = preset("small", **SMALL)
    model = DiveNet(cfg).eval()
    frame, bg = _frames(3, cfg)
    perm = torch.tensor([2, 0, 1])
    plain, swapped = model(frame, bg), model(frame, bg, ti_perm=perm)
    torch.testing.assert_close(swapped.ti, plain.ti[perm])
    torch.testing.assert_close(swapped.tv, plain.tv)


def test_color_jitter_deterministic_and_bounded():
    x = torch.rand(4, 3, 8, 8)
    a = color_jitter(x, torch.Generator().manual_seed(3))
    b = color_jitter(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert a.min() >= 0 and a.max() <= 1 and not torch.equal(a, x)


def test_config_round_trip_and_unknown_key():
    for name in ("small", "paper"):
        cfg = preset(name)
        assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    loss = LossConfig(bbox_size_weight=1.0)
    assert LossConfig.from_dict(json.loads(json.dumps(loss.to_dict()))) == loss
    with pytest.raises(DivekitError, match="'crop_sise'"):
        ModelConfig.from_dict({"crop_sise": 64})
    with pytest.raises(DivekitError, match="'lamda'"):
        LossConfig.from_dict({"lamda": 1.0})
    with pytest.raises(DivekitError, match="crop_size"):
        ModelConfig(crop_size=60)


def test_resnet_keys_match_torchvision_naming():
    sd = resnet18().state_dict()
    # 6 (conv1 + bn1 with 5 entries) + layer1 2×12 + layers 2-4 (12 + 18 with downsample) ×3 + fc 2 = 122
    assert len(sd) == 122
    for key in (
        "conv1.weight",
        "bn1.running_var",
        "bn1.num_batches_tracked",
        "layer1.0.conv1.weight",
        "layer1.1.bn2.bias",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_mean",
        "layer4.1.conv2.weight",
        "fc.weight",
        "fc.bias",
    ):
        assert key in sd, key
    assert tuple(sd["fc.weight"].shape) == (1000, 512)
    sd50 = resnet50().state_dict()
    assert "layer3.5.conv3.weight" in sd50 and tuple(sd50["fc.weight"].shape) == (1000, 2048)
    assert len(sd50) == 320
    assert sum(p.numel() for p in resnet18().parameters()) == 11_689_512  # torchvision's count


def test_feature_weights_file_round_trip(tmp_path):
    random_fe = build_feature_extractor("random", seed=5)
    path = tmp_path / "resnet18-test.pth"
    torch.save(random_fe.net.state_dict(), path)
    loaded = build_feature_extractor("resnet18", path)
    x = torch.rand(1, 3, 64, 32)
    for a, b in zip(random_fe(x), loaded(x), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(DivekitError, match="not found"):
        build_feature_extractor("resnet18", tmp_path / "missing.pth")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(DivekitError, match="not a torchvision ResNet-18"):
        build_feature_extractor("resnet18", tmp_path / "bad.pth")
    with pytest.raises(DivekitError, match="unknown feature net"):
        build_feature_extractor("vgg")


@pytest.mark.parametrize("kind", ["random", "pyramid", "none"])
def test_feature_extractors_frozen(kind):
    fe = build_feature_extractor(kind)
    fe.train()
    assert not fe.training and all(not m.training for m in fe.modules())
    assert count_parameters(fe) == 0
    x = torch.rand(2, 3, 64, 32, requires_grad=True)
    feats = fe(x)
    assert len(feats) == (0 if kind == "none" else 3)
    if feats:
        sum(f.square().mean() for f in feats).backward()
        assert x.grad.abs().sum() > 0
