"""`divekit background`: one empty-scene image per video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli import console, progress_columns, user_errors


@user_errors
def background(
    videos: Annotated[list[Path], typer.Argument(help="Video files, or folders of videos.", show_default=False)],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", "-o", help="Write the images here instead of beside each video."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help=(
                "median: per-pixel temporal median of frames sampled evenly in time (a static camera; "
                "right wherever the background shows in more than half the samples). "
                "split: bottom half of the first frame over the top half of the last (the diver starts "
                "high and ends under water). "
                "auto: median when the clip has at least 15 frames, else split (a median of a few "
                "frames keeps whatever stood still in most of them)."
            ),
        ),
    ] = "auto",
    max_frames: Annotated[int, typer.Option(help="Frames sampled for the median.", min=3)] = 64,
    memory_mb: Annotated[
        float, typer.Option(help="Memory for sampled frames; fewer frames are used if they would not fit.")
    ] = 256,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing background images.")] = False,
) -> None:
    """Estimate the empty scene behind the diver, written as [bold]<stem>.background.png[/]."""
    from rich.progress import Progress

    from divekit.background import METHODS, background_path, estimate_background, save_png
    from divekit.errors import DivekitError
    from divekit.io import ensure_writable_dir, refuse_existing
    from divekit.steady import camera_path
    from divekit.video import VideoReader, find_videos

    if method not in METHODS:
        raise DivekitError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
    paths = find_videos(videos)
    if out_dir is not None:
        ensure_writable_dir(out_dir)
    targets = [background_path(v, out_dir) for v in paths]
    refuse_existing(targets, force)
    # open all first: a bad file fails before any work; a camera that moved is held still (divekit.steady)
    readers = [VideoReader(v, shifts=camera_path(v)) for v in paths]
    for target in targets:
        ensure_writable_dir(target.parent)

    with Progress(*progress_columns(), console=console, transient=True) as bar:
        for reader, target in zip(readers, targets, strict=True):
            task = bar.add_task(reader.path.name, total=None)

            def advance(done: int, total: int, task=task) -> None:
                bar.update(task, completed=done, total=total)

            image, used = estimate_background(
                reader, method, max_frames=max_frames, memory_mb=memory_mb, progress=advance
            )
            save_png(image, target)
            console.print(f"{reader.path.name}: {used} → {target}")
