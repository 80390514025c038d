"""What every command shares: the stderr console and the one-line error contract."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from divekit.errors import DivekitError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., object])


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
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
