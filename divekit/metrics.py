"""3D pose errors as pure numpy functions: poses are (N, J, 3) arrays in metres.

MPJPE is the mean per-joint position error; N-MPJPE first rescales each predicted frame to the truth
(Rhodin et al. 2018); P-MPJPE first aligns each frame by Procrustes (translation, rotation, scale).
The per-joint functions return (N, J) errors; :func:`pose_report` averages them into millimetres and
:func:`compare_labels` matches predicted and true label sets frame by frame before reporting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from divekit.errors import DivekitError
from divekit.skeleton import JOINTS, pelvis

if TYPE_CHECKING:
    from divekit.labels import VideoLabels

EPS = 1e-12


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    assert pred.shape == gt.shape and pred.ndim == 3 and pred.shape[2] == 3, (pred.shape, gt.shape)
    return pred, gt


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean error of every joint, (N,J,3),(N,J,3) -> (N,J)."""
    pred, gt = _check_pair(pred, gt)
    return np.linalg.norm(pred - gt, axis=-1)


def n_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Error after scaling each predicted frame by s = Σ(pred·gt)/Σ(pred·pred), (N,J,3) -> (N,J)."""
    pred, gt = _check_pair(pred, gt)
    s = np.sum(pred * gt, axis=(1, 2)) / np.maximum(np.sum(pred * pred, axis=(1, 2)), EPS)
    return mpjpe(s[:, None, None] * pred, gt)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Each predicted frame moved onto the truth by the best s·R·x + t, R a proper rotation, (N,J,3)."""
    pred, gt = _check_pair(pred, gt)
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    # Umeyama (1991): SVD of the cross-covariance gᵀp; flipping the weakest axis when det < 0 keeps
    # R a rotation, so a mirrored pose is not "aligned" by a reflection.
    u, sig, vt = np.linalg.svd(np.einsum("nji,njk->nik", g, p))
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones_like(sig)
    d[:, -1] = sign
    rot = u @ (d[:, :, None] * vt)  # U·diag(d)·Vᵀ
    scale = np.sum(sig * d, axis=1) / np.maximum(np.sum(p * p, axis=(1, 2)), EPS)
    return scale[:, None, None] * np.einsum("nik,njk->nji", rot, p) + mu_g


def p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Error after per-frame Procrustes alignment (translation, rotation, scale), (N,J,3) -> (N,J)."""
    return mpjpe(procrustes_align(pred, gt), gt)


def pelvis_centred(joints: np.ndarray) -> np.ndarray:
    """Joints relative to the mid-hip, (..., 13, 3) -> (..., 13, 3)."""
    joints = np.asarray(joints, dtype=np.float64)
    return joints - pelvis(joints)[..., None, :]


def _mm(x: np.ndarray) -> float:
    return round(float(np.mean(x)) * 1000.0, 1)


def pose_report(pred: np.ndarray, gt: np.ndarray, joints: Sequence[str] = JOINTS) -> dict:
    """MPJPE, N-MPJPE and P-MPJPE in mm of pelvis-centred poses, overall and per joint, (N,13,3) each."""
    pred, gt = _check_pair(pred, gt)
    assert len(joints) == pred.shape[1], (len(joints), pred.shape)
    assert len(pred) > 0, "no frames to compare"
    pred, gt = pelvis_centred(pred), pelvis_centred(gt)
    errors = {"mpjpe_mm": mpjpe(pred, gt), "n_mpjpe_mm": n_mpjpe(pred, gt), "p_mpjpe_mm": p_mpjpe(pred, gt)}
    report: dict = {"frames": int(len(pred))}
    report.update({key: _mm(err) for key, err in errors.items()})
    report["per_joint"] = {name: {key: _mm(err[:, j]) for key, err in errors.items()} for j, name in enumerate(joints)}
    return report


def _names(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "") if items else "none"


def compare_labels(pred: dict[str, VideoLabels], truth: dict[str, VideoLabels]) -> dict:
    """:func:`pose_report` over the (video, frame) pairs in both, plus ``videos`` (per-video overall figures).

    Also lists ``unmatched_videos``: predicted videos without a single frame in the truth.
    """
    flat = [v for v, item in pred.items() if item.xyz is None]
    if flat:
        raise DivekitError(f"the prediction has no 3D joints (columns x, y, z) for video {flat[0]!r}")
    shared = [v for v in pred if v in truth]
    if not shared:
        raise DivekitError(
            f"no video is in both the prediction ({_names(list(pred))}) and the truth ({_names(list(truth))})"
        )
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for video in shared:
        p, t = pred[video], truth[video]
        _, ip, it = np.intersect1d(p.frames, t.frames, assume_unique=True, return_indices=True)
        if len(ip) == 0:
            continue
        if t.xyz is None:
            raise DivekitError(f"the truth has no 3D joints (columns x, y, z) for video {video!r}")
        pairs[video] = (p.xyz[ip], t.xyz[it])
    if not pairs:
        raise DivekitError(f"no labelled frame is in both the prediction and the truth (videos {_names(shared)})")
    report = pose_report(np.concatenate([p for p, _ in pairs.values()]), np.concatenate([t for _, t in pairs.values()]))
    keys = ("frames", "mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")
    report["videos"] = {v: {k: pose_report(p, t)[k] for k in keys} for v, (p, t) in pairs.items()}
    report["unmatched_videos"] = [v for v in pred if v not in pairs]
    return report
