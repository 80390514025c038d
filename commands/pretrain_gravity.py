"""`divekit pretrain-gravity`: DiveNet learns to find the diver, with no labels, through gravity."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from ._cli import BackgroundsOption, MemoryOption, RestartOption, ResumeOption, SeedOption, console, user_errors


@user_errors
def pretrain_gravity(
    inputs: Annotated[list[Path], typer.Argument(help="Videos, or folders of videos.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoint, boxes.csv, plots.")],
    steps: Annotated[int | None, typer.Option(help=r"Optimiser steps (default: the \[train] config, 1500).")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Model preset: small (2-core CPU, default) or paper (GPU sizes).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help=r"TOML file with \[model], \[loss], \[train], \[gravity] settings.")
    ] = None,
    resume: ResumeOption = False,
    no_gravity: Annotated[
        bool,
        typer.Option("--no-gravity", help="Reconstruction only: no tracking losses, no free-fall proposals."),
    ] = False,
    backgrounds: BackgroundsOption = None,
    feature_weights: Annotated[
        Path | None,
        typer.Option(help="Local torchvision ResNet-18 ImageNet weights (.pth) for the feature loss of Eq. 2."),
    ] = None,
    seed: SeedOption = None,
    memory_gb: MemoryOption = 8.0,
    force: RestartOption = False,
) -> None:
    """Train DiveNet's detector on free-fall footage: reconstruction + gravity prior (paper §3.2).

    Under torchrun --nproc_per_node=N it trains data-parallel: global batch = batch x N; rank 0 writes.
    """
    from divekit import distributed
    from divekit.gravity import run_pretrain
    from divekit.runsetup import gravity_settings
    from divekit.video import find_videos

    from ._training import RichProgress, prepare_run_dir

    # under torchrun: join the other processes (gloo: the gravity stage builds its batches on the CPU)
    distributed.init_from_env(backend="gloo")
    main = distributed.is_main()  # only rank 0 talks to the user
    try:
        videos = find_videos(inputs)
        settings = gravity_settings(
            out,
            videos,
            resume=resume,
            force=force,
            config_file=config,
            preset=preset,
            steps=steps,
            seed=seed,
            no_gravity=no_gravity,
            feature_weights=feature_weights,
        )
        prepare_run_dir(out, backgrounds)
        with console.status("preparing") if main else contextlib.nullcontext() as status:
            progress = RichProgress(
                "gravity" if settings.gravity.use_gravity else "reconstruction only", show=("recon", "track")
            )

            def on_status(message: str) -> None:
                if status is None:
                    return
                status.update(message)
                if message.startswith("tracking"):
                    status.stop()

            result = run_pretrain(
                videos,
                out,
                model_cfg=settings.model,
                loss_cfg=settings.loss,
                train_cfg=settings.train,
                gravity_cfg=settings.gravity,
                resume=resume,
                background_dir=backgrounds,
                memory_gb=memory_gb,
                callbacks=[progress] if main else [],
                on_status=on_status,
            )
        if main:
            console.print(
                f"trained {result.steps} steps in {result.elapsed_s / 60:.1f} min on {result.clips} clips "
                f"(free fall found in {result.flights_found}); outputs in {result.run_dir}"
            )
    finally:
        distributed.cleanup()
