"""Training losses of the paper as pure tensor functions, one per equation.

Box coordinates follow ``affine_grid`` (see divekit.model): u_y grows downwards, the frame height
spans 2 units, s is a fraction of the frame size. Gravity quads are 4 equidistant frames of one
clip, in time order, laid out as a (B, 4, ...) tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


def reconstruction_loss(
    img: Tensor,
    recon: Tensor,
    features: Callable[[Tensor], Sequence[Tensor]] | None,
    lam: float,
    rho: float,
) -> Tensor:
    """Eq. 2: λ·mean((I − Ĩ)²) + ρ·Σ_{l=1..3} mean((Res_l(I) − Res_l(Ĩ))²).

    Normalisation: the pixel term is the mean over every element (batch, channel, pixel), and each
    feature term the mean over the elements of that layer's map, summed over the layers; so the
    loss does not depend on batch size or resolution. ``features`` None (or returning no maps)
    drops the feature term. The target's features carry no gradient.
    """
    assert img.shape == recon.shape and img.ndim == 4, (img.shape, recon.shape)
    loss = lam * (img - recon).pow(2).mean()
    if features is None or rho == 0:
        return loss
    with torch.no_grad():
        target = list(features(img))
    pred = list(features(recon))
    assert len(pred) == len(target)
    for a, b in zip(pred, target, strict=True):
        loss = loss + rho * (a - b).pow(2).mean()
    return loss


def const_acc_loss(u_y: Tensor) -> Tensor:
    """Eq. 9: ((u1 + 3u3) − (u4 + 3u2))², (B,4) box-centre y of equidistant frames -> mean over B."""
    assert u_y.ndim == 2 and u_y.shape[1] == 4, u_y.shape
    u1, u2, u3, u4 = u_y.unbind(1)
    return ((u1 + 3 * u3) - (u4 + 3 * u2)).pow(2).mean()


def const_acc_loss_timed(u_y: Tensor, times: Tensor) -> Tensor:
    """Eq. 9 for unevenly spaced times: (6·h̄³·u[t1,t2,t3,t4])², (B,4) u_y and times -> mean over B.

    u[t1..t4] is the third divided difference, zero iff the four points lie on one parabola (constant
    acceleration), whatever the spacing; h̄ = (t4 − t1)/3. For equidistant times 6h³·u[t1..t4] is
    u4 − 3u3 + 3u2 − u1, so this equals Eq. 9 exactly and does not depend on the time unit. Use it when
    frame timestamps come from a variable-frame-rate video.
    """
    assert u_y.ndim == 2 and u_y.shape[1] == 4 and times.shape == u_y.shape, (u_y.shape, times.shape)
    t = times.to(u_y.dtype)
    assert bool((t[:, 1:] > t[:, :-1]).all()), "times must increase within each quad"
    diff = t[:, :, None] - t[:, None, :] + torch.eye(4, dtype=t.dtype, device=t.device)  # 1 on the diagonal
    dd3 = (u_y / diff.prod(2)).sum(1)
    h = (t[:, 3] - t[:, 0]) / 3
    return (6 * h.pow(3) * dd3).pow(2).mean()


def order_loss(u_y: Tensor, tau: float) -> Tensor:
    """Eq. 10 in y-down coordinates: Σ_t max(0, τ − (u_{t+1} − u_t)), (B,4) -> mean over B.

    The paper's u_y decreases as the diver falls; ours (affine_grid) increases, so the sign of the
    difference is flipped: the loss is zero only when the centre moves *down* by at least τ from each
    frame to the next, and grows linearly when it moves less, stays, or goes up.
    """
    assert u_y.ndim == 2 and u_y.shape[1] == 4, u_y.shape
    step = u_y[:, 1:] - u_y[:, :-1]
    return torch.clamp(tau - step, min=0).sum(1).mean()


def scale_loss(s: Tensor) -> Tensor:
    """Eq. 11: Σ_t ||(s^x_t, s^y_t) − (s^x_{t+1}, s^y_{t+1})||², (B,4,2) -> mean over B."""
    assert s.ndim == 3 and s.shape[1:] == (4, 2), s.shape
    return (s[:, 1:] - s[:, :-1]).pow(2).sum((1, 2)).mean()


def tracking_loss(boxes: Tensor, tau: float) -> Tensor:
    """Eq. 12: const-acc + order + scale, (B,4,4) boxes (s_x, s_y, u_x, u_y) of gravity quads."""
    assert boxes.ndim == 3 and boxes.shape[1:] == (4, 4), boxes.shape
    u_y = boxes[..., 3]
    return const_acc_loss(u_y) + order_loss(u_y, tau) + scale_loss(boxes[..., :2])


def bbox_prior_loss(
    boxes: Tensor,
    target_size: Tensor | Sequence[float] | float,
    target_centre: Tensor | Sequence[float] | None = None,
    *,
    size_weight: float = 1.0,
    centre_weight: float = 1.0,
) -> Tensor:
    """S.1 Gaussian prior on the batch mean: w_s||mean(s) − s*||² + w_u||mean(u) − u*||², (B,4) boxes.

    Only the mean over the batch is pulled, not each box, so individual boxes stay free (S.1).
    A weight is 1/(2σ²) of the Gaussian; ``target_centre`` None skips the centre term.
    """
    assert boxes.ndim == 2 and boxes.shape[1] == 4, boxes.shape
    mean = boxes.mean(0)
    size = torch.as_tensor(target_size, dtype=boxes.dtype, device=boxes.device).expand(2)
    loss = size_weight * (mean[:2] - size).pow(2).sum()
    if target_centre is not None:
        centre = torch.as_tensor(target_centre, dtype=boxes.dtype, device=boxes.device).expand(2)
        loss = loss + centre_weight * (mean[2:] - centre).pow(2).sum()
    return loss


def _mean_squared_norm(pred: Tensor, target: Tensor) -> Tensor:
    assert pred.shape == target.shape and pred.ndim >= 2, (pred.shape, target.shape)
    return (pred - target).flatten(1).pow(2).sum(1).mean()


def pose2d_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Eq. 13: (1/N) Σ_k ||Θ(I_tv^k) − q_2D^k||², (N, ...) poses flattened per sample."""
    return _mean_squared_norm(pred, target)


def pose3d_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Eq. 15: (1/N) Σ_k ||Φ(I_tv^k) − q_3D^k||², (N, ...) poses flattened per sample."""
    return _mean_squared_norm(pred, target)
