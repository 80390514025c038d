"""The divekit command line: one root typer app, one module per subcommand."""

from __future__ import annotations

from typing import Annotated

import typer

from divekit import __version__

from . import analyze, background, evaluate, pretrain_gravity, synth, train

app = typer.Typer(
    name="divekit",
    help="Tracked, metric, 3D-posed dives from ordinary single-camera diving footage.",
    rich_markup_mode="rich",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"divekit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Tracked, metric, 3D-posed dives from ordinary single-camera diving footage."""


app.command("synth")(synth.synth)
app.command("background")(background.background)
app.command("pretrain-gravity")(pretrain_gravity.pretrain_gravity)
app.command("train")(train.train)
app.command("analyze")(analyze.analyze)
app.command("evaluate")(evaluate.evaluate)


def main() -> None:
    app()
