"""`divekit evaluate`: 3D pose errors of predicted poses against ground-truth labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli import console, user_errors


@user_errors
def evaluate(
    pred: Annotated[
        Path,
        typer.Argument(
            help="Predicted poses: a CSV with frame, joint, x, y, z (and video), such as a train run's poses.csv.",
            show_default=False,
            metavar="PRED.csv",
        ),
    ],
    truth: Annotated[
        list[Path],
        typer.Argument(
            help="Ground-truth label CSVs, or folders of <clip>.truth.csv.", show_default=False, metavar="TRUTH"
        ),
    ],
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the figures (overall, per joint, per video) to this JSON file."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --json file.")] = False,
) -> None:
    """MPJPE, N-MPJPE and P-MPJPE in mm of pelvis-centred poses, on the frames labelled in both."""
    from rich.table import Table

    from divekit.errors import DivekitError
    from divekit.io import ensure_writable_dir, refuse_existing, write_json_atomic
    from divekit.labels import read_labels
    from divekit.metrics import compare_labels
    from divekit.skeleton import JOINTS

    if json_out is not None:  # check the output before reading anything
        if json_out.is_dir():
            raise DivekitError(f"--json {json_out} is a folder; give a file name")
        refuse_existing([json_out], force)
        ensure_writable_dir(json_out.parent)
    report = compare_labels(read_labels([pred]), read_labels(truth))

    videos = len(report["videos"])
    table = Table(
        title=f"{pred.name}: {report['frames']} frames of {videos} video{'s' if videos != 1 else ''} matched",
        title_justify="left",
    )
    table.add_column("joint")
    for name in ("MPJPE", "N-MPJPE", "P-MPJPE"):
        table.add_column(f"{name} (mm)", justify="right")
    keys = ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")
    for joint in JOINTS:
        table.add_row(joint, *(f"{report['per_joint'][joint][k]:.1f}" for k in keys))
    table.add_section()
    table.add_row("overall", *(f"{report[k]:.1f}" for k in keys), style="bold")
    console.print(table)
    if report["unmatched_videos"]:
        names = report["unmatched_videos"]
        console.print(f"no truth for {len(names)} predicted video(s): {', '.join(names)}", highlight=False)
    if json_out is not None:
        write_json_atomic(json_out, report)
        console.print(f"wrote {json_out}", highlight=False)
