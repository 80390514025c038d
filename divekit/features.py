"""ResNets with torchvision's parameter names, and the frozen feature nets of the reconstruction loss.

torchvision is not a dependency, yet a user's local torchvision ImageNet file (for example
``resnet18-f37072fd.pth``) loads into :func:`resnet18` unchanged, because every ``state_dict`` key
(``conv1.weight``, ``bn1.running_mean``, ``layer1.0.conv1.weight``, ..., ``fc.bias``) is spelled the same.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from divekit.errors import DivekitError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FEATURE_KINDS = ("resnet18", "random", "pyramid", "none")


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)  # stride on the 3x3, as torchvision (ResNet v1.5)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, width * 4)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet; ``num_stages`` < 4 drops the deepest layers, ``num_classes=None`` drops fc."""

    def __init__(
        self,
        *,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, ...],
        num_classes: int | None = 1000,
        in_channels: int = 3,
        num_stages: int = 4,
    ) -> None:
        super().__init__()
        assert len(layers) == 4 and 1 <= num_stages <= 4
        assert num_classes is None or num_stages == 4, "fc needs all four stages"
        self.num_stages = num_stages
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i in range(num_stages):
            setattr(self, f"layer{i + 1}", self._make_layer(block, 64 * 2**i, layers[i], stride=1 if i == 0 else 2))
        self.out_channels = 64 * 2 ** (num_stages - 1) * block.expansion
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.out_channels, num_classes) if num_classes is not None else None
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, block: type[nn.Module], width: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != width * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, width * block.expansion, stride), nn.BatchNorm2d(width * block.expansion)
            )
        mods = [block(self.inplanes, width, stride, downsample)]
        self.inplanes = width * block.expansion
        mods += [block(self.inplanes, width) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def stages(self, x: Tensor) -> list[Tensor]:
        """Outputs of layer1..layer{num_stages}; strides 4, 8, 16, 32."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
            outs.append(x)
        return outs

    def forward(self, x: Tensor) -> Tensor:
        x = self.stages(x)[-1]
        if self.fc is None:
            return x
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(**kwargs) -> ResNet:
    return ResNet(block=BasicBlock, layers=(2, 2, 2, 2), **kwargs)


def resnet50(**kwargs) -> ResNet:
    return ResNet(block=Bottleneck, layers=(3, 4, 6, 3), **kwargs)


def load_resnet18_weights(path: str | Path) -> ResNet:
    """A full ResNet-18 with a torchvision ``state_dict`` loaded from a local file, never unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise DivekitError(f"ResNet-18 weights file {path} not found (torchvision's resnet18-f37072fd.pth works)")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise DivekitError(f"cannot read ResNet-18 weights {path}: {exc}".splitlines()[0]) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    with torch.random.fork_rng(devices=[]):  # the weights get overwritten: leave the global RNG alone
        net = resnet18()
    if not isinstance(state, dict):
        raise DivekitError(f"{path} does not hold a state_dict")
    expected = set(net.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise DivekitError(f"{path} is not a torchvision ResNet-18 state_dict: {what}")
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise DivekitError(f"{path}: shapes do not match a ResNet-18: {str(exc).splitlines()[-1].strip()}") from None
    return net


def _gaussian_kernel1d(sigma: float = 1.0, radius: int = 2) -> Tensor:
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class FeatureExtractor(nn.Module):
    """Frozen multi-scale features of an image in [0, 1], (B,3,H,W) -> list of 3 maps (Eq. 2's Res_1..3).

    Always in eval mode (``train()`` is a no-op) and without trainable parameters, so gradients flow
    to the input only. ``kind="none"`` returns an empty list.
    """

    def __init__(self, *, kind: str, net: ResNet | None = None) -> None:
        super().__init__()
        assert kind in FEATURE_KINDS, kind
        assert (net is not None) == (kind in ("resnet18", "random"))
        self.kind = kind
        self.net = net
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        g = _gaussian_kernel1d()
        self.register_buffer("gauss", (g[:, None] * g[None, :]).expand(3, 1, 5, 5).clone(), persistent=False)
        sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
        self.register_buffer("sobel", torch.stack([sobel, sobel.T])[:, None].repeat(3, 1, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FeatureExtractor:  # noqa: ARG002 - frozen: BN stays in eval
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        assert x.ndim == 4 and x.shape[1] == 3, x.shape
        if self.kind == "none":
            return []
        if self.net is not None:
            x = (x - self.mean) / self.std
            return self.net.stages(x)[:3]
        feats = []
        for _ in range(3):
            # Gaussian blur then ×2 decimation: an alias-free pyramid; Sobel gradients add edge structure.
            x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), self.gauss, groups=3)[:, :, ::2, ::2]
            grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.sobel, groups=3)
            feats.append(torch.cat([x, 4.0 * grad], dim=1))
        return feats


def build_feature_extractor(kind: str, weights_path: str | Path | None = None, *, seed: int = 0) -> FeatureExtractor:
    """The frozen feature net of Eq. 2: "resnet18" (local ImageNet file), "random", "pyramid" or "none"."""
    if kind not in FEATURE_KINDS:
        raise DivekitError(f"unknown feature net {kind!r}; choose one of {', '.join(FEATURE_KINDS)}")
    if kind == "resnet18":
        if weights_path is None:
            raise DivekitError("feature net 'resnet18' needs a local ImageNet weights file (resnet18-f37072fd.pth)")
        return FeatureExtractor(kind=kind, net=load_resnet18_weights(weights_path))
    if kind == "random":
        # A private generator so building the loss net never disturbs the global RNG stream.
        gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            net = resnet18()
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                with torch.no_grad():
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_out) ** 0.5)
        return FeatureExtractor(kind=kind, net=net)
    return FeatureExtractor(kind=kind)
