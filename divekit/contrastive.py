"""Contrastive losses of paper §3.1.2 as pure tensor functions, one per equation.

Feature batches are (B, D) time-variant latents; temporal distances ``d`` are in frames, as is
``d_max``. Every loss returns a scalar averaged over the batch, except :func:`dsl_loss` (per pair).
"""

from __future__ import annotations

import torch
from torch import Tensor

EPS = 1e-8


def cosine_similarity(m: Tensor, n: Tensor) -> Tensor:
    """sim(m, n) = mᵀn / max(|m||n|, ε), (B,D),(B,D) -> (B,); a zero vector has similarity 0."""
    assert m.ndim == 2 and m.shape == n.shape, (m.shape, n.shape)
    # clamp each norm (not the product) so a zero vector gets a finite gradient too
    return (m * n).sum(1) / (m.norm(dim=1).clamp_min(EPS) * n.norm(dim=1).clamp_min(EPS))


def dsl_loss(m: Tensor, n: Tensor, d: Tensor, d_max: float) -> Tensor:
    """Eq. 5: (1 − 2d/d_max)|1 − sim| if d ≤ d_max/2, else min(2d/d_max − 1, 1)|sim|, per pair -> (B,)."""
    assert d.shape == m.shape[:1], (d.shape, m.shape)
    assert d_max > 0, d_max
    assert bool((d >= 0).all()), "temporal distances must be non-negative"
    sim = cosine_similarity(m, n)
    ratio = 2 * d.to(sim.dtype) / d_max
    near = (1 - ratio) * (1 - sim).abs()
    far = torch.clamp(ratio - 1, max=1) * sim.abs()
    return torch.where(ratio <= 1, near, far)


def dsl_all(
    ref: Tensor,
    near: Tensor,
    inter: Tensor,
    far: Tensor,
    d_near: Tensor,
    d_inter: Tensor,
    d_far: Tensor,
    d_max: float,
) -> Tensor:
    """Eq. 6: L_DSL(r, n) + L_DSL(r, tn) + L_DSL(r, a), each (B,D) with (B,) distances -> mean over B."""
    assert ref.shape == near.shape == inter.shape == far.shape, (ref.shape, near.shape, inter.shape, far.shape)
    total = dsl_loss(ref, near, d_near, d_max) + dsl_loss(ref, inter, d_inter, d_max)
    return (total + dsl_loss(ref, far, d_far, d_max)).mean()


def css_infonce(ref: Tensor, pos: Tensor, negatives: Tensor, tau: float) -> Tensor:
    """Eq. 3: −log(exp(sim(r,p)/τ) / Σ_{k ∈ {p} ∪ negatives} exp(sim(r,k)/τ)), (B,D),(B,D),(B,K,D) -> mean."""
    assert ref.ndim == 2 and ref.shape == pos.shape, (ref.shape, pos.shape)
    assert negatives.ndim == 3 and negatives.shape[0] == ref.shape[0], (ref.shape, negatives.shape)
    assert negatives.shape[2] == ref.shape[1], (ref.shape, negatives.shape)
    assert tau > 0, tau
    b, k, dim = negatives.shape
    sim_pos = cosine_similarity(ref, pos)
    sim_neg = cosine_similarity(ref[:, None].expand(b, k, dim).reshape(b * k, dim), negatives.reshape(b * k, dim))
    logits = torch.cat([sim_pos[:, None], sim_neg.reshape(b, k)], dim=1) / tau
    return (torch.logsumexp(logits, dim=1) - logits[:, 0]).mean()


def triplet_loss(ref: Tensor, pos: Tensor, neg: Tensor, beta: float) -> Tensor:
    """Eq. 4 as a hinge: mean(max(0, |r − p|² + β − |r − n|²)), (B,D) each -> scalar."""
    assert ref.ndim == 2 and ref.shape == pos.shape == neg.shape, (ref.shape, pos.shape, neg.shape)
    d_pos = (ref - pos).pow(2).sum(1)
    d_neg = (ref - neg).pow(2).sum(1)
    return torch.relu(d_pos + beta - d_neg).mean()
