"""Settings of a training run from defaults, a TOML file, command-line overrides, or a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from divekit.checkpoint import CHECKPOINT_NAME, load_checkpoint
from divekit.config import LossConfig, ModelConfig
from divekit.config import preset as model_preset
from divekit.errors import DivekitError
from divekit.gravity import GravityConfig
from divekit.pose import PoseConfig
from divekit.runconfig import build, read_toml
from divekit.selfsup import SelfSupConfig
from divekit.training import TrainConfig
from divekit.trainrun import TRAIN_STAGE, TrainSettings, load_init


@dataclass
class GravitySettings:
    model: ModelConfig
    loss: LossConfig
    train: TrainConfig
    gravity: GravityConfig


def _same_inputs(recorded: list[str], videos: list[Path]) -> bool:
    return [Path(p).resolve() for p in recorded] == [Path(v).resolve() for v in videos]


def _section(cls: type, sections: dict, name: str, **options: object) -> object:
    """Dataclass ``cls`` from the config file's [name] table, with the command-line options that were given."""
    given = {k: v for k, v in options.items() if v is not None}
    return build(cls, {**sections.get(name, {}), **given}, where=f"[{name}]")


def _check_steps(steps: int | None) -> None:
    if steps is not None and steps <= 0:
        raise DivekitError(f"--steps must be positive, got {steps}")


def _resumed_record(run_dir: Path, stage: str, command: str, steps: int | None) -> dict:
    """The record of the run being resumed, refusing a run of another command."""
    _check_steps(steps)
    record, _ = load_checkpoint(run_dir)
    if record.get("stage") != stage:
        raise DivekitError(f"{run_dir} holds a {record.get('stage')!r} run, not a {command} run")
    return record


def _resumed_train_config(record: dict, videos: list[Path], steps: int | None) -> TrainConfig:
    """The [train] settings of a run being resumed on the same inputs, ``steps`` raised if asked."""
    if not _same_inputs(record["inputs"], videos):
        raise DivekitError(f"--resume needs the inputs the run started with ({len(record['inputs'])} videos)")
    train = TrainConfig(**record["train"])
    if steps is not None:
        if steps < train.steps:
            raise DivekitError(f"--steps {steps} is below the run's {train.steps} steps")
        train = replace(train, steps=steps)
    return train


def _check_new_run(run_dir: Path, steps: int | None, force: bool) -> None:
    _check_steps(steps)
    if (run_dir / CHECKPOINT_NAME).exists() and not force:
        raise DivekitError(f"{run_dir} already holds a run; use --resume to continue it or --force to start over")


def gravity_settings(
    run_dir: Path,
    videos: list[Path],
    *,
    resume: bool,
    force: bool = False,
    config_file: Path | None = None,
    preset: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    no_gravity: bool = False,
    feature_weights: Path | None = None,
) -> GravitySettings:
    """Resolve what a ``pretrain-gravity`` run trains with, refusing anything inconsistent."""
    run_dir = Path(run_dir)
    if resume:
        record = _resumed_record(run_dir, "gravity", "pretrain-gravity", steps)
        recorded_preset = record["model"]["preset"]
        if preset is not None and preset != recorded_preset:
            raise DivekitError(f"the checkpoint in {run_dir} is preset {recorded_preset!r}, not {preset!r}")
        if config_file is not None:
            raise DivekitError("--config cannot change a run being resumed; settings come from its checkpoint")
        train = _resumed_train_config(record, videos, steps)
        # runs from before the attention term trained without it, and resume as they started
        gravity = build(GravityConfig, {"attention_weight": 0.0, **record["gravity"]}, where="checkpoint [gravity]")
        return GravitySettings(
            ModelConfig.from_dict(record["model"]), LossConfig.from_dict(record["loss"]), train, gravity
        )

    _check_new_run(run_dir, steps, force)
    sections = read_toml(config_file) if config_file else {}
    model_values = dict(sections.get("model", {}))
    name = preset or model_values.pop("preset", "small")
    model = model_preset(name, **model_values)
    loss_values = dict(sections.get("loss", {}))
    if feature_weights is not None:
        if not Path(feature_weights).is_file():
            raise DivekitError(f"no such weights file: {feature_weights}")
        loss_values.update(feature_net="resnet18", feature_weights=str(feature_weights))
    loss = build(LossConfig, loss_values, where="[loss]")
    train = _section(TrainConfig, sections, "train", steps=steps, seed=seed)
    gravity = _section(GravityConfig, sections, "gravity", use_gravity=False if no_gravity else None)
    return GravitySettings(model, loss, train, gravity)


def train_settings(
    run_dir: Path,
    videos: list[Path],
    *,
    init: Path | None,
    resume: bool,
    force: bool = False,
    config_file: Path | None = None,
    variant: str | None = None,
    regressor: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
) -> TrainSettings:
    """Resolve what a ``train`` run trains with: the model from ``--init``, the rest from defaults/TOML/options."""
    run_dir = Path(run_dir)
    if resume:
        record = _resumed_record(run_dir, TRAIN_STAGE, "train", steps)
        if config_file is not None or variant is not None or regressor is not None:
            raise DivekitError("--config, --variant and --regressor cannot change a run being resumed")
        train = _resumed_train_config(record, videos, steps)
        return TrainSettings(
            ModelConfig.from_dict(record["model"]),
            LossConfig.from_dict(record["loss"]),
            train,
            build(SelfSupConfig, record["selfsup"], where="checkpoint [selfsup]"),
            build(PoseConfig, record["pose"], where="checkpoint [pose]"),
            resumed=record,
        )

    if init is None:
        raise DivekitError("--init is needed: the pretrain-gravity run to start from")
    _check_new_run(run_dir, steps, force)
    init_record, weights = load_init(init)
    sections = read_toml(config_file) if config_file else {}
    for name in ("model", "gravity"):
        if name in sections:
            raise DivekitError(f"[{name}] does not apply to train: the model and its gravity stage come from --init")
    loss = build(LossConfig, {**init_record["loss"], **sections.get("loss", {})}, where="[loss]")
    train = _section(TrainConfig, sections, "train", steps=steps, seed=seed)
    selfsup = _section(SelfSupConfig, sections, "selfsup", variant=variant)
    pose = _section(PoseConfig, sections, "pose", regressor=regressor)
    return TrainSettings(ModelConfig.from_dict(init_record["model"]), loss, train, selfsup, pose, init=weights)
