"""`divekit synth`: procedural dives with exact ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli import console, progress_columns, user_errors

SHEET_CLIPS = 6


@user_errors
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the clips into.", show_default=False)],
    clips: Annotated[int, typer.Option("--clips", "-n", help="Number of clips.")] = 4,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed; the same seed gives the same clips.")] = 0,
    width: Annotated[int, typer.Option(help="Frame width in pixels (even).")] = 256,
    height: Annotated[int, typer.Option(help="Frame height in pixels (even).")] = 512,
    divers: Annotated[
        str | None,
        typer.Option(help="Comma-separated diver identities (0-5) to use, round-robin (default: all six)."),
    ] = None,
    heldout_diver: Annotated[
        int | None,
        typer.Option(help="Also write splits.json: this diver's clips held out, the others for training."),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option(
            help="Film every clip at this fixed rate (e.g. 120 or 240, a high-speed camera); "
            "otherwise the same clips. Default: 25-60 frames/s, some variable."
        ),
    ] = None,
    contact_sheet: Annotated[
        bool,
        typer.Option("--contact-sheet/--no-contact-sheet", help=f"Also write contact_sheet.png ({SHEET_CLIPS} clips)."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite clips that already exist.")] = False,
) -> None:
    """Render synthetic dives: [bold]<clip>.mp4[/], [bold].truth.csv[/], [bold].json[/], [bold].background.png[/]."""
    from rich.progress import Progress

    from divekit import synth as synth_lib
    from divekit.errors import DivekitError
    from divekit.io import atomic_path, ensure_writable_dir, publish, refuse_existing, staging_dir, write_json_atomic

    if clips < 1:
        raise DivekitError(f"--clips must be at least 1, got {clips}")
    diver_ids = None
    if divers:
        try:
            diver_ids = [int(d) for d in divers.split(",")]
        except ValueError:
            raise DivekitError(f"--divers must be comma-separated integers, got {divers!r}") from None
    specs = synth_lib.dataset_specs(clips, seed, width=width, height=height, divers=diver_ids, fps=fps)
    if heldout_diver is not None and heldout_diver not in {spec.diver for _, spec in specs}:
        raise DivekitError(
            f"--heldout-diver {heldout_diver} has no clips among divers {sorted({s.diver for _, s in specs})}"
        )
    ensure_writable_dir(out_dir)
    suffixes = (".mp4", ".truth.csv", ".json", ".background.png")
    planned = [out_dir / f"{name}{sfx}" for name, _ in specs for sfx in suffixes]
    planned += [out_dir / "contact_sheet.png"] if contact_sheet else []
    planned += [out_dir / "splits.json"] if heldout_diver is not None else []
    refuse_existing(planned, force)

    with staging_dir(out_dir) as stage, Progress(*progress_columns(), console=console, transient=True) as bar:
        task = bar.add_task("rendering", total=len(specs))
        for name, spec in specs:
            publish(synth_lib.render_clip(spec, stage, name), out_dir)
            bar.advance(task)
    if contact_sheet:
        step = max(1, len(specs) // SHEET_CLIPS)
        chosen = [out_dir / f"{name}.mp4" for name, _ in specs[::step][:SHEET_CLIPS]]
        with atomic_path(out_dir / "contact_sheet.png") as tmp:
            synth_lib.contact_sheet(chosen, tmp)
    if heldout_diver is not None:
        split = {
            "heldout_diver": heldout_diver,
            "train": [name for name, spec in specs if spec.diver != heldout_diver],
            "heldout": [name for name, spec in specs if spec.diver == heldout_diver],
        }
        write_json_atomic(out_dir / "splits.json", split)
    console.print(f"wrote {len(specs)} clips to {out_dir}")
