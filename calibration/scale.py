"""Gravity as the ruler: metres per pixel from a fitted image-plane acceleration (paper §3.2).

A centre in free fall accelerates at g = 9.81 m/s². On a dive plane parallel to the image plane
(paper S.3, Eq. 19) its image moves at ``acc = g / s`` pixels/s², where ``s`` is the size of one
pixel on that plane in metres, so ``s = g / acc``. Accelerations are in pixels/s² with image y
growing downwards (a fall has ``acc > 0``). Pure scalar functions; no I/O.
"""

from __future__ import annotations

import math

G = 9.81  # m/s², the value the synthetic dives use


def metres_per_pixel(acc_px_s2: float, acc_std_px_s2: float | None = None, g: float = G) -> tuple[float, float | None]:
    """(metres per pixel, 1-sigma uncertainty) from a fall's acceleration ``acc`` ± ``acc_std`` in px/s².

    ``s = g / acc``; the uncertainty is first-order, ``g * acc_std / acc²`` (None without a std).
    """
    if not (math.isfinite(acc_px_s2) and acc_px_s2 > 0):
        raise ValueError(f"acceleration must be positive and finite (px/s², image y down), got {acc_px_s2}")
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"g must be positive and finite, got {g}")
    value = g / acc_px_s2
    if acc_std_px_s2 is None:
        return value, None
    if not acc_std_px_s2 >= 0:
        raise ValueError(f"acceleration std must be >= 0, got {acc_std_px_s2}")
    return value, g * acc_std_px_s2 / acc_px_s2**2


def acceleration_px(metres_per_pixel_: float, g: float = G) -> float:
    """The image acceleration (px/s²) of a free fall at a known scale: the inverse of :func:`metres_per_pixel`."""
    if not (math.isfinite(metres_per_pixel_) and metres_per_pixel_ > 0):
        raise ValueError(f"metres per pixel must be positive and finite, got {metres_per_pixel_}")
    return g / metres_per_pixel_


def acc_range_from_box(
    box_height_px: float, extent_m: tuple[float, float] = (0.5, 3.5), g: float = G
) -> tuple[float, float]:
    """Plausible fall accelerations (px/s²) for a body whose box is ``box_height_px`` tall.

    The box of a diver spans ``extent_m`` metres (0.5 m tucked and seen end-on, 3.5 m stretched
    with arms overhead, both generous), so one pixel is ``extent / box_height_px`` metres and the
    fall accelerates at ``g * box_height_px / extent`` px/s².
    """
    lo, hi = extent_m
    if not (math.isfinite(box_height_px) and box_height_px > 0):
        raise ValueError(f"box height must be positive and finite, got {box_height_px}")
    if not 0 < lo < hi:
        raise ValueError(f"extent_m must be (low, high) with 0 < low < high, got {extent_m}")
    return g * box_height_px / hi, g * box_height_px / lo
