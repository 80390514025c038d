"""Rich progress for the training engine, shared by pretrain-gravity and train."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from divekit.errors import DivekitError
from divekit.io import ensure_writable_dir
from divekit.training import Callback, StepReport

from ._cli import console


class RichProgress(Callback):
    """A bar with it/s and ETA, and the latest loss terms under it."""

    def __init__(self, description: str, show: tuple[str, ...] = ()):
        self.show = show
        self.progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[terms]}"),
            console=console,
            transient=False,
        )
        self.description = description
        self.task = None
        self._first_step = 0
        self._first_elapsed = 0.0

    def on_start(self, step: int, total_steps: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=total_steps, completed=step, rate="", terms="")
        self._first_step = step

    def on_step(self, report: StepReport) -> None:
        if report.step == self._first_step + 1:
            self._first_elapsed = report.elapsed_s
        done = report.step - self._first_step - 1
        spent = report.elapsed_s - self._first_elapsed
        rate = f"{done / spent:.2f} it/s" if spent > 0 and done > 0 else ""
        keys = self.show or tuple(k for k in report.terms if k != "total")
        terms = " ".join(f"{k} {report.terms[k]:.2g}" for k in ("total", *keys) if k in report.terms)
        self.progress.update(self.task, completed=report.step, rate=rate, terms=terms)

    def on_end(self, report: StepReport) -> None:
        self.progress.stop()


def prepare_run_dir(out: Path, backgrounds: Path | None) -> None:
    """Check ``--backgrounds`` and make sure the run folder can be written, before any work."""
    if backgrounds is not None and not backgrounds.is_dir():
        raise DivekitError(f"--backgrounds {backgrounds} is not a folder")
    ensure_writable_dir(out)
