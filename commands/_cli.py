"""What every command shares: the stderr console and the one-line error contract."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from divekit.errors import DivekitError

# No markup on stdout: what it prints holds the user's file and folder names, where "[take 2]" is text.
console = Console(markup=False)
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., object])

# Options the two training commands (pretrain-gravity, train) share, word for word.
ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue the run in --out exactly where it stopped.")]
BackgroundsOption = Annotated[
    Path | None, typer.Option(help="Folder of <stem>.background.png (default: beside each video).")
]
SeedOption = Annotated[int | None, typer.Option(help="Seed (default 0).")]
MemoryOption = Annotated[float, typer.Option(help="Most memory the decoded clips may take.")]
RestartOption = Annotated[bool, typer.Option("--force", help="Start over in a run folder that holds a run.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    return typer.Exit(code)


def user_errors(func: F) -> F:
    """Turn DivekitError (and Ctrl-C) into one stderr line and a non-zero exit, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DivekitError as exc:
            raise fail(str(exc)) from None
        except OSError as exc:  # a full disk, a read-only folder, a vanished file: say which, in one line
            where = f": {exc.filename}" if exc.filename else ""
            raise fail(f"{exc.strerror or exc}{where}; finished outputs are kept, partial ones were removed") from None
        except KeyboardInterrupt:
            raise fail("interrupted; finished outputs are kept, partial ones were removed", 130) from None

    return wrapper  # type: ignore[return-value]


def progress_columns():
    """The progress bar layout every long-running command uses."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return (
        TextColumn("{task.description}", style="progress.description", markup=False),  # a file name is text
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
