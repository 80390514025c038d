"""`divekit analyze`: tracked, posed, gravity-calibrated dive reports, one folder per video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._cli import console, user_errors


def _fmt(value, spec: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


@user_errors
def analyze(
    videos: Annotated[list[Path], typer.Argument(help="Dive videos (files or folders).", show_default=False)],
    model: Annotated[
        Path | None,
        typer.Option(help="A train run folder or model.pt (default: the model shipped with divekit)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the reports: one sub-folder per video.")] = Path(
        "analysis"
    ),
    overlay: Annotated[
        bool, typer.Option("--overlay", help="Also write overlay.mp4: box, skeleton and running figures.")
    ] = False,
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration TOML with a known metres_per_pixel (overrides the fall's).")
    ] = None,
    save_calibration: Annotated[
        Path | None,
        typer.Option(help="Write the scale measured from the (first) dive's fall as a calibration TOML to reuse."),
    ] = None,
    backgrounds: Annotated[
        Path | None, typer.Option(help="Folder of <stem>.background.png (default: beside each video, else estimated).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing reports.")] = False,
) -> None:
    """Track the diver, estimate 3D pose, and measure the dive with gravity as the ruler (paper §3.2, S.3)."""
    from rich.progress import Progress
    from rich.table import Table

    from divekit.analyze import analyze_video, load_model
    from divekit.calibration.calibfile import Calibration, load_calibration
    from divekit.calibration.calibfile import save_calibration as write_calibration
    from divekit.errors import DivekitError
    from divekit.io import ensure_writable_dir
    from divekit.video import VideoReader, find_videos

    from ._cli import progress_columns

    paths = find_videos(videos)
    stems = [p.stem for p in paths]
    shared = next((stem for stem in stems if stems.count(stem) > 1), None)
    if shared is not None:
        twins = [p for p in paths if p.stem == shared]
        raise DivekitError(
            f"{twins[0]} and {twins[1]} share a name; their reports would land in the same folder"
            f" ({out / twins[0].stem}): analyze them in two calls with different -o"
        )
    for path in paths:  # every input must open before anything is written
        VideoReader(path)
    known = load_calibration(calibration) if calibration else None
    if save_calibration is not None and save_calibration.exists() and not force:
        raise DivekitError(f"{save_calibration} exists; use --force to replace it")
    targets = [out / stem for stem in stems]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise DivekitError(f"{existing[0]} already holds a report; use --force to replace it")
    net, record, name = load_model(model)
    ensure_writable_dir(out)

    reports = []
    with Progress(*progress_columns(), console=console) as progress:
        for path, target in zip(paths, targets, strict=True):
            task = progress.add_task(path.name, total=None)

            def tick(done: int, total: int, task=task) -> None:
                progress.update(task, completed=done, total=total)

            reports.append(
                analyze_video(
                    net,
                    name,
                    path,
                    target,
                    calibration=known,
                    calibration_file=calibration,
                    overlay=overlay,
                    background_dir=backgrounds,
                    progress=tick,
                )  # fmt: skip
            )

    rows = [
        [
            _fmt(s.get("flight_time_s"), ".2f"),
            _fmt(s.get("metres_per_pixel"), ".4f"),
            _fmt(s.get("apex_height_m"), ".2f"),
            _fmt(s.get("entry_speed_mps"), ".1f"),
            _fmt(s.get("somersaults"), ".2f")
            + {"forward": " fwd", "backward": " back"}.get(s.get("somersault_direction") or "", ""),
            _fmt(s.get("twists"), "+.2f"),
            s.get("position") or "—",
        ]
        for s in (report.summary for report in reports)
    ]
    table = Table(title=f"divekit analyze — model: {name}")
    table.add_column("video", overflow="fold")  # on a narrow terminal the name folds, never a figure
    for k, column in enumerate(("flight\ns", "m/px", "apex\nm", "entry\nm/s", "turns", "twists", "position")):
        widest = max(len(row[k]) for row in rows)
        table.add_column(column, min_width=widest, justify="left" if column == "position" else "right")
    for report, row in zip(reports, rows, strict=True):
        table.add_row(report.video.stem, *row)  # the report folder's name
    console.print(table)
    for report in reports:  # why a figure is missing, in full
        if report.summary.get("reason"):
            console.print(f"{report.video.name}: {report.summary['reason']}", highlight=False)
        if report.summary.get("other_flights"):
            others = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in report.summary["other_flights"])
            takeoff = report.summary["takeoff_time_s"]
            which = f"the dive that takes off at {takeoff:.2f} s" if takeoff is not None else "one dive"
            console.print(
                f"{report.video.name}: this report is of {which}; the video holds"
                f" {len(report.summary['other_flights'])} more free fall (at {others}): cut it to analyse each dive",
                highlight=False,
            )
        if report.summary.get("camera_sway_px"):
            console.print(
                f"{report.video.name}: the camera moved by up to {report.summary['camera_sway_px']:.1f} px; every frame"
                " was held still against the empty scene before it was measured",
                highlight=False,
            )
        if report.summary.get("flight_frames_at_window_edge"):
            x, _, w, _ = report.summary["window_px"]
            n = report.summary["flight_frames_at_window_edge"]
            console.print(
                f"{report.video.name}: in {n} frame{'s' if n > 1 else ''} of the flight the diver's box reaches the"
                f" edge of the window the model looked through (x {x:.0f}-{x + w:.0f} px); a body partly outside"
                " it is measured on the part inside",
                highlight=False,
            )
    console.print(f"reports in {out}/<video>/: {', '.join(reports[0].wrote)}")

    if save_calibration is not None:
        measured = next((r.summary for r in reports if r.summary.get("metres_per_pixel_source") == "fall"), None)
        if measured is None:
            raise DivekitError("no dive gave a scale from its fall; nothing to save as a calibration")
        write_calibration(
            save_calibration,
            Calibration(measured["metres_per_pixel"], measured.get("metres_per_pixel_uncertainty")),
            source=measured["video"],
        )
        console.print(f"calibration saved to {save_calibration}")
