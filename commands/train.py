"""`divekit train`: DSL self-supervision from a pretrain-gravity run, then 3D pose from few labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli import BackgroundsOption, MemoryOption, RestartOption, ResumeOption, SeedOption, console, user_errors


@user_errors
def train(
    inputs: Annotated[list[Path], typer.Argument(help="Videos, or folders of videos.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: model.pt, poses.csv, metrics.json, plots.")],
    init: Annotated[
        Path | None, typer.Option(help="The pretrain-gravity run (folder or checkpoint) to start from.")
    ] = None,
    labels: Annotated[
        list[Path] | None,
        typer.Option(
            help="Pose labels: CSV files (video, frame, joint, x, y, z and/or u, v) or folders of <clip>.truth.csv. "
            "Repeatable."
        ),
    ] = None,
    label_fraction: Annotated[
        float | None,
        typer.Option(help="Fraction F in (0, 1]: Φ trains on every K-th labelled frame, K = round(1/F) (default 1)."),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="ours (DSL-STN-Dec-Split, default), css, ae or nosplit (paper §4.2).")
    ] = None,
    regressor: Annotated[
        str | None, typer.Option(help="Pose regressor Φ: mlp (2x2048, default) or residual (1024, 3 blocks).")
    ] = None,
    weak_2d: Annotated[
        bool, typer.Option("--weak-2d", help="Also learn a 2D head on tv from the labels' u, v (Eq. 13, η).")
    ] = False,
    val: Annotated[
        list[str] | None,
        typer.Option(help="Labelled videos to validate on (default: splits.json 'heldout', else the last fifth)."),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Optimiser steps of the self-supervised stage (default 1500).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help=r"TOML file with \[loss], \[train], \[selfsup], \[pose] settings.")
    ] = None,
    resume: ResumeOption = False,
    backgrounds: BackgroundsOption = None,
    seed: SeedOption = None,
    memory_gb: MemoryOption = 8.0,
    force: RestartOption = False,
) -> None:
    """Learn pose features without labels (DSL, paper §3.1), then fit 3D pose on few labels (Eq. 15).

    Under torchrun --nproc_per_node=N the self-supervised stage trains data-parallel: global batch =
    batch x N; rank 0 fits Φ and writes every output.
    """
    import contextlib

    from divekit import distributed
    from divekit.runsetup import train_settings
    from divekit.trainrun import run_train
    from divekit.video import find_videos

    from ._training import RichProgress, prepare_run_dir

    distributed.init_from_env(backend="gloo")  # under torchrun: join the other processes
    main = distributed.is_main()  # only rank 0 talks to the user
    try:
        videos = find_videos(inputs)
        settings = train_settings(
            out,
            videos,
            init=init,
            resume=resume,
            force=force,
            config_file=config,
            variant=variant,
            regressor=regressor,
            steps=steps,
            seed=seed,
        )
        prepare_run_dir(out, backgrounds)
        # a resumed run keeps its labels, fraction and validation split unless they are given again
        resumed = settings.resumed
        labels = labels or [Path(p) for p in resumed.get("labels", [])]
        label_fraction = resumed.get("label_fraction", 1.0) if label_fraction is None else label_fraction
        val = val or resumed.get("val") or None
        weak_2d = weak_2d or bool(resumed.get("weak_2d"))
        with console.status("preparing") if main else contextlib.nullcontext() as status:
            progress = RichProgress(
                f"train ({settings.selfsup.variant})", show=("recon", "dsl", "decor", "css", "pose2d")
            )

            def on_status(message: str) -> None:
                if status is not None:
                    status.update(message)

            result = run_train(
                videos,
                out,
                settings,
                labels=labels,
                label_fraction=label_fraction,
                val=val,
                weak_2d=weak_2d,
                resume=resume,
                background_dir=backgrounds,
                memory_gb=memory_gb,
                callbacks=[progress] if main else [],
                on_status=on_status,
            )
        if main:
            _report(result, out)
    finally:
        distributed.cleanup()


def _report(result, out: Path) -> None:
    """What a finished run says: steps, time, validation figures and files written."""
    console.print(f"trained {result.steps} steps in {result.elapsed_s / 60:.1f} min on {result.clips} clips")
    if result.metrics is None:
        console.print("no labels given: no pose regressor, poses.csv or metrics.json (pass --labels)")
    else:
        v = result.metrics.get("validation")
        if v:
            console.print(
                f"pose regressor on {result.train_frames} labelled frames; validation "
                f"({', '.join(result.metrics['validation_videos'])}): MPJPE {v['mpjpe_mm']:.1f} mm, "
                f"N-MPJPE {v['n_mpjpe_mm']:.1f} mm, P-MPJPE {v['p_mpjpe_mm']:.1f} mm"
            )
        else:
            console.print(f"pose regressor on {result.train_frames} labelled frames; no validation videos")
    console.print(f"wrote {', '.join(result.wrote)} to {out}")
