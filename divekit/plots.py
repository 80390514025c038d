"""Figures as PNG files (matplotlib, Agg backend), each written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from divekit.io import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    plt = _pyplot()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)


def plot_losses(log: Sequence[dict[str, float]], path: Path) -> None:
    """Every logged loss term against the step, log scale."""
    plt = _pyplot()
    df = pd.DataFrame(list(log))
    fig, ax = plt.subplots(figsize=(7, 4))
    for column in df.columns:
        if column in ("step", "elapsed_s"):
            continue
        values = df[column].to_numpy(dtype=float)
        if np.all(values <= 0):
            continue
        ax.plot(df["step"], np.where(values > 0, values, np.nan), label=column, lw=1.5 if column == "total" else 1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2)
    save_figure(fig, path)


def plot_box_heights(boxes: pd.DataFrame, heights: dict[str, int], path: Path, max_clips: int = 24) -> None:
    """Box-centre height (pixels above the bottom edge) against time, one panel per clip."""
    plt = _pyplot()
    videos = list(dict.fromkeys(boxes["video"]))[:max_clips]
    cols = min(4, len(videos))
    rows = int(np.ceil(len(videos) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, video in zip(axes.flat, videos, strict=False):
        d = boxes[boxes["video"] == video]
        ax.plot(d["time_s"], heights[video] - d["box_cy"], ".-", ms=2, lw=0.8)
        ax.set_title(video, fontsize=8)
        ax.set_xlabel("time (s)", fontsize=7)
        ax.set_ylabel("height (px)", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(videos) :]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)


def plot_preview(rows: Sequence[dict[str, np.ndarray]], path: Path) -> None:
    """One row per example: frame with box | crop | decoded mask | re-synthesis | background.

    Each row dict holds (H, W, 3) float images in [0, 1] named ``frame``, ``crop``, ``mask`` (H, W),
    ``recon``, ``background`` and ``box`` = (cx, cy, w, h) in frame pixels.
    """
    plt = _pyplot()
    titles = ["frame + box", "crop", "decoded mask", "re-synthesis", "background"]
    fig, axes = plt.subplots(len(rows), 5, figsize=(11, 3.6 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        cx, cy, w, h = row["box"]
        images = [row["frame"], row["crop"], row["mask"], row["recon"], row["background"]]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(np.clip(image, 0, 1), cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=9)
        axes[r, 0].add_patch(plt.Rectangle((cx - w / 2, cy - h / 2), w, h, fill=False, ec="red", lw=1.2))
    fig.tight_layout()
    save_figure(fig, path)


def plot_swap(rows: dict[str, np.ndarray], path: Path) -> None:
    """Paper Fig. 5: one row per named stack of (K, h, w, 3) crops in [0, 1], K columns."""
    plt = _pyplot()
    names = list(rows)
    k = len(rows[names[0]])
    fig, axes = plt.subplots(len(names), k, figsize=(1.6 * k + 1.2, 1.7 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(np.clip(rows[name][c], 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
