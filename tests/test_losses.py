"""Each loss against a value computed by hand (arithmetic in the comments)."""

import pytest
import torch

from divekit.losses import (
    bbox_prior_loss,
    const_acc_loss,
    const_acc_loss_timed,
    order_loss,
    pose2d_loss,
    pose3d_loss,
    reconstruction_loss,
    scale_loss,
    tracking_loss,
)


def test_reconstruction_pixel_term_only():
    img = torch.zeros(1, 3, 1, 2)
    recon = torch.zeros(1, 3, 1, 2)
    recon[0, 0, 0, 0] = 1.0
    recon[0, 1, 0, 1] = 2.0
    # squared errors 1 and 4 over 6 elements -> mean 5/6; λ = 2 -> 10/6
    assert reconstruction_loss(img, recon, None, lam=2.0, rho=2.0).item() == pytest.approx(10 / 6)


def test_reconstruction_feature_term_sums_layer_means():
    def features(x):
        # layer 1: the image itself; layer 2: 2·image; layer 3: its per-sample mean (B,1)
        return [x, 2 * x, x.mean((1, 2, 3))[:, None]]

    img = torch.zeros(1, 3, 1, 2)
    recon = torch.zeros(1, 3, 1, 2)
    recon[0, 0, 0, 0] = 3.0
    # pixel: 9/6 = 1.5, λ=1 -> 1.5
    # layer 1: 9/6 = 1.5; layer 2: 36/6 = 6; layer 3: (3/6)^2 = 0.25 -> sum 7.75, ρ=0.5 -> 3.875
    loss = reconstruction_loss(img, recon, features, lam=1.0, rho=0.5)
    assert loss.item() == pytest.approx(1.5 + 3.875)


def test_reconstruction_gradient_flows_to_recon_only():
    img = torch.rand(2, 3, 8, 8, requires_grad=True)
    recon = torch.rand(2, 3, 8, 8, requires_grad=True)
    reconstruction_loss(img, recon, lambda x: [x * x], lam=1.0, rho=1.0).backward()
    assert recon.grad.abs().sum() > 0


def test_const_acc_loss():
    # quad 1: u = (0, 1, 4, 9), a parabola: (0 + 3·4) − (9 + 3·1) = 12 − 12 = 0
    # quad 2: u = (0, 0, 1, 0): (0 + 3·1) − (0 + 3·0) = 3 -> 9
    u = torch.tensor([[0.0, 1.0, 4.0, 9.0], [0.0, 0.0, 1.0, 0.0]])
    # mean over batch (0 + 9) / 2 = 4.5
    assert const_acc_loss(u).item() == pytest.approx(4.5)


def test_const_acc_loss_timed():
    # equidistant times reduce to Eq. 9 (any unit or offset): same 4.5 as above
    u = torch.tensor([[0.0, 1.0, 4.0, 9.0], [0.0, 0.0, 1.0, 0.0]])
    t = torch.tensor([[10.0, 10.5, 11.0, 11.5]] * 2)
    assert const_acc_loss_timed(u, t).item() == pytest.approx(4.5)
    # a parabola u = t² sampled at uneven times (0, 1, 3, 4) has constant acceleration -> 0
    t = torch.tensor([[0.0, 1.0, 3.0, 4.0]])
    assert const_acc_loss_timed(t**2, t).item() == pytest.approx(0.0, abs=1e-9)
    # u = (0, 0, 0, 1) at (0, 1, 3, 4): divided difference 1 / ((4−0)(4−1)(4−3)) = 1/12;
    # h̄ = 4/3, 6·(64/27)/12 = 32/27 -> (32/27)² = 1024/729
    u = torch.tensor([[0.0, 0.0, 0.0, 1.0]])
    assert const_acc_loss_timed(u, t).item() == pytest.approx(1024 / 729)


def test_order_loss_direction_and_margin():
    tau = 0.1
    # Falling in y-down coordinates: steps +0.2, +0.3, +0.4 all ≥ τ -> 0
    falling = torch.tensor([[0.0, 0.2, 0.5, 0.9]])
    assert order_loss(falling, tau).item() == pytest.approx(0.0)
    # Rising (paper's direction would be satisfied, ours is not): steps −0.2, −0.3, −0.4
    # -> (0.1 + 0.2) + (0.1 + 0.3) + (0.1 + 0.4) = 1.2
    rising = torch.tensor([[0.9, 0.7, 0.4, 0.0]])
    assert order_loss(rising, tau).item() == pytest.approx(1.2)
    # Within the margin: steps +0.05, 0, +0.1 -> 0.05 + 0.1 + 0 = 0.15
    slow = torch.tensor([[0.0, 0.05, 0.05, 0.15]])
    assert order_loss(slow, tau).item() == pytest.approx(0.15)
    # Batch mean: (0 + 1.2) / 2 = 0.6
    assert order_loss(torch.cat([falling, rising]), tau).item() == pytest.approx(0.6)


def test_scale_loss():
    # (sx, sy): (0.1,0.2) -> (0.2,0.2) -> (0.2,0.5) -> (0.2,0.5)
    # ||Δ||² = 0.01 + 0.09 + 0 = 0.10
    s = torch.tensor([[[0.1, 0.2], [0.2, 0.2], [0.2, 0.5], [0.2, 0.5]]])
    assert scale_loss(s).item() == pytest.approx(0.10)
    # a constant-scale quad adds 0; mean over 2 -> 0.05
    s2 = torch.cat([s, torch.full((1, 4, 2), 0.3)])
    assert scale_loss(s2).item() == pytest.approx(0.05)


def test_tracking_loss_is_the_sum():
    # u_y = (0, 0, 1, 0): const-acc 9 (see above); order τ=0.1: steps 0, +1, −1 -> 0.1 + 0 + 1.1 = 1.2
    # scales (0.1,0.2),(0.2,0.2),(0.2,0.5),(0.2,0.5): 0.10. Total 10.3
    boxes = torch.zeros(1, 4, 4)
    boxes[0, :, :2] = torch.tensor([[0.1, 0.2], [0.2, 0.2], [0.2, 0.5], [0.2, 0.5]])
    boxes[0, :, 3] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    assert tracking_loss(boxes, tau=0.1).item() == pytest.approx(10.3)


def test_bbox_prior_on_batch_mean():
    # two boxes, mean s = (0.3, 0.4), mean u = (0.1, -0.2)
    boxes = torch.tensor([[0.2, 0.4, 0.0, -0.4], [0.4, 0.4, 0.2, 0.0]])
    # size: (0.3−0.5)² + (0.4−0.5)² = 0.04 + 0.01 = 0.05, ×2 = 0.1
    assert bbox_prior_loss(boxes, 0.5, size_weight=2.0).item() == pytest.approx(0.1)
    # centre to (0,0): 0.01 + 0.04 = 0.05, ×3 = 0.15 -> total 0.25
    loss = bbox_prior_loss(boxes, 0.5, (0.0, 0.0), size_weight=2.0, centre_weight=3.0)
    assert loss.item() == pytest.approx(0.25)
    # per-axis target (0.3, 0.4) is met exactly
    assert bbox_prior_loss(boxes, (0.3, 0.4)).item() == pytest.approx(0.0, abs=1e-12)


def test_pose_losses():
    # 2 samples × 2 joints × 2 coords; sample 1 off by (1,0),(0,2): 1 + 4 = 5; sample 2 by (3,0): 9
    target = torch.zeros(2, 2, 2)
    pred = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [0.0, 0.0]]])
    # mean (5 + 9) / 2 = 7
    assert pose2d_loss(pred, target).item() == pytest.approx(7.0)
    # 3D: one sample, 13 joints each off by (1,1,1) -> 13·3 = 39
    assert pose3d_loss(torch.ones(1, 13, 3), torch.zeros(1, 13, 3)).item() == pytest.approx(39.0)


def test_shape_asserts():
    with pytest.raises(AssertionError):
        const_acc_loss(torch.zeros(2, 3))
    with pytest.raises(AssertionError):
        scale_loss(torch.zeros(2, 4))
    with pytest.raises(AssertionError):
        pose3d_loss(torch.zeros(2, 13, 3), torch.zeros(2, 13, 2))
