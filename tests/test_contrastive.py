"""Each contrastive loss (paper §3.1.2) against a value computed by hand (arithmetic in the comments)."""

import math

import pytest
import torch

from divekit.contrastive import cosine_similarity, css_infonce, dsl_all, dsl_loss, triplet_loss


def t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_cosine_similarity_known_angles():
    m = t([1.0, 0.0], [3.0, 4.0], [1.0, 0.0], [2.0, 0.0])
    n = t([1.0, 1.0], [4.0, -3.0], [-2.0, 0.0], [5.0, 0.0])
    # 45° -> 1/√2; (3,4)·(4,-3) = 12 − 12 = 0; opposite -> −1; same direction, any lengths -> 1
    expected = [1 / math.sqrt(2), 0.0, -1.0, 1.0]
    assert cosine_similarity(m, n).tolist() == pytest.approx(expected)


def test_cosine_similarity_of_a_zero_vector_is_zero_with_finite_gradient():
    m = t([0.0, 0.0]).requires_grad_()
    n = t([1.0, 2.0]).requires_grad_()
    sim = cosine_similarity(m, n)
    assert sim.item() == 0.0
    sim.sum().backward()
    assert torch.isfinite(m.grad).all() and torch.isfinite(n.grad).all()


def test_cosine_similarity_shape_assert():
    with pytest.raises(AssertionError):
        cosine_similarity(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(AssertionError):
        cosine_similarity(torch.zeros(3), torch.zeros(3))


# The pair (1,0),(0.6,0.8) has sim 0.6; d_max = 8 frames.
D_MAX = 8.0


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (0.0, 0.4),  # d = 0: weight 1 − 0 = 1, |1 − 0.6| = 0.4 -> 0.4
        (2.0, 0.2),  # d = d_max/4: weight 1 − 2·2/8 = 0.5 -> 0.5·0.4 = 0.2
        (4.0, 0.0),  # d = d_max/2: weight 1 − 2·4/8 = 0 -> 0
        (6.0, 0.3),  # d = 3d_max/4: weight min(2·6/8 − 1, 1) = 0.5, |0.6| -> 0.3
        (8.0, 0.6),  # d = d_max: weight min(2 − 1, 1) = 1 -> 0.6
        (16.0, 0.6),  # d = 2d_max: weight min(4 − 1, 1) = 1 -> 0.6
    ],
)
def test_dsl_loss_weights_along_the_distance(d, expected):
    m, n = t([1.0, 0.0]), t([0.6, 0.8])
    assert dsl_loss(m, n, torch.tensor([d]), D_MAX).item() == pytest.approx(expected)


def test_dsl_loss_negative_similarity_and_batch():
    m = t([1.0, 0.0], [1.0, 0.0])
    n = t([-0.6, 0.8], [-0.6, 0.8])  # sim −0.6
    d = torch.tensor([0.0, 8.0])
    # d = 0: 1·|1 − (−0.6)| = 1.6; d = d_max: 1·|−0.6| = 0.6
    assert dsl_loss(m, n, d, D_MAX).tolist() == pytest.approx([1.6, 0.6])


def test_dsl_loss_rejects_negative_distance_and_bad_shapes():
    m = t([1.0, 0.0])
    with pytest.raises(AssertionError):
        dsl_loss(m, m, torch.tensor([-1.0]), D_MAX)
    with pytest.raises(AssertionError):
        dsl_loss(m, m, torch.tensor([1.0, 2.0]), D_MAX)
    with pytest.raises(AssertionError):
        dsl_loss(m, m, torch.tensor([1.0]), 0.0)


def test_dsl_all_sums_three_terms_and_averages_the_batch():
    ref = t([1.0, 0.0], [0.0, 1.0])
    near = t([1.0, 0.0], [0.0, 1.0])  # sims 1, 1
    inter = t([0.6, 0.8], [0.0, 1.0])  # sims 0.6, 1
    far = t([0.6, 0.8], [1.0, 0.0])  # sims 0.6, 0
    d_near, d_inter, d_far = torch.tensor([1.0, 1.0]), torch.tensor([2.0, 6.0]), torch.tensor([8.0, 8.0])
    # row 0: near 0.75·|1−1| = 0; inter (d = 2) 0.5·0.4 = 0.2; far (d = 8) 1·0.6 = 0.6 -> 0.8
    # row 1: near 0; inter (d = 6) 0.5·|1| = 0.5; far 1·|0| = 0 -> 0.5
    # mean (0.8 + 0.5)/2 = 0.65
    loss = dsl_all(ref, near, inter, far, d_near, d_inter, d_far, D_MAX)
    assert loss.ndim == 0 and loss.item() == pytest.approx(0.65)


def test_dsl_all_gradient_is_finite():
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(4, 16, generator=g, requires_grad=True) for _ in range(4)]
    dists = [torch.full((4,), v) for v in (1.0, 7.0, 12.0)]  # none at d_max/2, where the weight is 0
    loss = dsl_all(*feats, *dists, d_max=10.0)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(f.grad).all() and f.grad.abs().sum() > 0 for f in feats)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_infonce_equals_log_k_plus_one_when_all_similarities_are_equal(k):
    ref = t([1.0, 0.0], [0.0, 2.0])
    pos = t([1.0, 1.0], [1.0, 1.0])  # sims 1/√2, 1/√2
    negatives = pos[:, None].repeat(1, k, 1) * 3.0  # same directions -> same sims
    # every logit equal: −log(e^s / ((K+1)·e^s)) = log(K + 1)
    assert css_infonce(ref, pos, negatives, tau=0.1).item() == pytest.approx(math.log(k + 1))


def test_infonce_hand_computed_and_stable_at_small_tau():
    ref, pos, negatives = t([1.0, 0.0]), t([2.0, 0.0]), torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    # sims: positive 1, negative 0; τ = 1: −log(e / (e + 1)) = log(1 + e^−1)
    assert css_infonce(ref, pos, negatives, tau=1.0).item() == pytest.approx(math.log(1 + math.exp(-1)))
    # τ = 0.5: log(1 + e^−2)
    assert css_infonce(ref, pos, negatives, tau=0.5).item() == pytest.approx(math.log(1 + math.exp(-2)))
    # τ = 1e-3: logits 1000 and 0 would overflow exp in float32; logsumexp gives log(1 + e^−1000) ≈ 0
    loss = css_infonce(ref.float(), pos.float(), negatives.float(), tau=1e-3)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(0.0, abs=1e-6)
    # swapped roles: the positive is orthogonal -> log(1 + e^{1/τ}) ≈ 1/τ = 1000
    loss = css_infonce(ref.float(), negatives[:, 0].float(), pos[:, None].float(), tau=1e-3)
    assert loss.item() == pytest.approx(1000.0, rel=1e-5)


def test_infonce_gradient_is_finite_and_shapes_are_checked():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(3, 8, generator=g, requires_grad=True)
    pos = torch.randn(3, 8, generator=g, requires_grad=True)
    neg = torch.randn(3, 5, 8, generator=g, requires_grad=True)
    css_infonce(ref, pos, neg, tau=0.07).backward()
    assert all(torch.isfinite(x.grad).all() for x in (ref, pos, neg))
    with pytest.raises(AssertionError):
        css_infonce(ref, pos, torch.zeros(3, 5, 7), tau=0.07)
    with pytest.raises(AssertionError):
        css_infonce(ref, pos, torch.zeros(2, 5, 8), tau=0.07)


def test_triplet_loss_hinge():
    ref = t([0.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    pos = t([1.0, 0.0], [1.0, 0.0], [1.0, 0.0])  # |r − p|² = 1
    neg = t([3.0, 0.0], [2.0, 0.0], [1.0, 1.0])  # |r − n|² = 9, 4, 2
    # β = 2: 1 + 2 − 9 = −6 -> 0; 1 + 2 − 4 = −1 -> 0; 1 + 2 − 2 = 1 -> 1; mean 1/3
    assert triplet_loss(ref, pos, neg, beta=2.0).item() == pytest.approx(1 / 3)
    # the first two rows alone satisfy the margin: zero loss and zero gradient
    r = ref[:2].clone().requires_grad_()
    loss = triplet_loss(r, pos[:2], neg[:2], beta=2.0)
    loss.backward()
    assert loss.item() == 0.0 and r.grad.abs().sum() == 0


def test_triplet_loss_shape_assert():
    with pytest.raises(AssertionError):
        triplet_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 3), beta=1.0)
