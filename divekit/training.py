"""One training engine for every stage (pretrain-gravity, train): Adam, seeds, exact resume.

Stages differ by what they pass in, never by a copied loop: a *sampler* draws a batch (and owns a
seeded generator whose state is checkpointed) and an *objective* turns a batch into named loss
terms with a ``total``. Progress, logging to the screen and plots hook in through callbacks.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from divekit.checkpoint import CHECKPOINT_NAME, save_checkpoint
from divekit.errors import DivekitError
from divekit.io import write_text_atomic


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch's global generators (samplers own theirs)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainConfig:
    """How long and how fast to train; saved in the checkpoint with the model config."""

    steps: int = 1500
    batch: int = 4  # samples per step: gravity quads (4 frames each) or DSL tuples
    lr: float = 1e-4  # Adam, fixed (paper S.1)
    seed: int = 0
    checkpoint_every: int = 100  # steps between checkpoints (resume loses at most this many)
    log_every: int = 10  # steps between rows of losses.csv

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise DivekitError(f"--steps must be positive, got {self.steps}")
        if self.batch <= 0:
            raise DivekitError(f"batch must be positive, got {self.batch}")
        if not self.lr > 0:
            raise DivekitError(f"learning rate must be positive, got {self.lr}")
        if self.checkpoint_every <= 0 or self.log_every <= 0:
            raise DivekitError("checkpoint_every and log_every must be positive")


class Sampler(Protocol):
    def sample(self) -> Any: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


Objective = Callable[[Any, int], dict[str, torch.Tensor]]


@dataclass
class StepReport:
    step: int  # steps completed
    total_steps: int
    terms: dict[str, float]
    elapsed_s: float  # training wall time, summed over resumed runs


class Callback:
    """Hooks called by :class:`Trainer`; override what you need."""

    def on_start(self, step: int, total_steps: int) -> None: ...
    def on_step(self, report: StepReport) -> None: ...
    def on_checkpoint(self, step: int, path: Path) -> None: ...
    def on_end(self, report: StepReport) -> None: ...


def _rng_state() -> dict[str, Any]:
    """Global generator states as tensors and plain values (checkpoints hold nothing else)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"] = {
        "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
        "pos": int(numpy_state["state"]["pos"]),
    }
    return {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {
        "key": state["numpy"]["state"]["key"].numpy().astype(np.uint32),
        "pos": state["numpy"]["state"]["pos"],
    }
    np.random.set_state(numpy_state)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


@dataclass
class Trainer:
    """Runs ``cfg.steps`` optimiser steps of ``objective`` on batches from ``sampler``.

    ``record`` (JSON-able: model/loss/train configs, inputs) is stored in every checkpoint so a
    run can be rebuilt and resumed from its folder alone.
    """

    model: torch.nn.Module
    objective: Objective
    sampler: Sampler
    cfg: TrainConfig
    run_dir: Path
    record: dict[str, Any]
    callbacks: Sequence[Callback] = ()
    step: int = 0
    elapsed_s: float = 0.0
    log: list[dict[str, float]] = field(default_factory=list)
    saved_step: int = 0
    # learning-rate multipliers by parameter-name prefix, e.g. {"detector.": 10.0}
    lr_scales: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        groups: dict[float, list[torch.nn.Parameter]] = {}
        for name, param in self.model.named_parameters():
            if param.requires_grad:
                scale = next((v for k, v in self.lr_scales.items() if name.startswith(k)), 1.0)
                groups.setdefault(scale, []).append(param)
        self.optimizer = torch.optim.Adam(
            [{"params": params, "lr": self.cfg.lr * scale} for scale, params in sorted(groups.items())]
        )

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "rng": _rng_state(),
            "sampler": self.sampler.state_dict(),
            "log": self.log,
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Continue exactly where a checkpoint stopped: weights, Adam moments, RNGs, sampler, log."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = self.saved_step = int(state["step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.sampler.load_state_dict(state["sampler"])
        self.log = [dict(row) for row in state["log"]]
        _set_rng_state(state["rng"])

    def save(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.checkpoint_path, config=self.record, state=self.state())
        self.saved_step = self.step
        write_text_atomic(self.run_dir / "losses.csv", self.log_csv())
        for cb in self.callbacks:
            cb.on_checkpoint(self.step, self.checkpoint_path)
        return self.checkpoint_path

    def log_csv(self) -> str:
        if not self.log:
            return "step,elapsed_s,total\n"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(self.log[0]))
        writer.writeheader()
        writer.writerows(self.log)
        return out.getvalue()

    def fit(self) -> StepReport:
        """Train until ``cfg.steps``; checkpoints every ``checkpoint_every`` steps and at the end."""
        self.model.train()
        for cb in self.callbacks:
            cb.on_start(self.step, self.cfg.steps)
        report = StepReport(self.step, self.cfg.steps, {}, self.elapsed_s)
        while self.step < self.cfg.steps:
            t0 = time.perf_counter()
            # 1. draw a batch (the sampler's generator is part of the checkpoint)
            batch = self.sampler.sample()
            # 2. forward: named loss terms, "total" is what we descend
            terms = self.objective(batch, self.step)
            total = terms["total"]
            if not torch.isfinite(total):
                values = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
                kept = f"the checkpoint of step {self.saved_step} is kept" if self.saved_step else "nothing was saved"
                raise DivekitError(
                    f"training diverged at step {self.step + 1} ({values}); {kept}; try a lower learning rate"
                )
            # 3. backward and update
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            self.optimizer.step()
            self.step += 1
            self.elapsed_s += time.perf_counter() - t0
            # 4. report, log, checkpoint
            report = StepReport(
                self.step, self.cfg.steps, {k: float(v.detach()) for k, v in terms.items()}, self.elapsed_s
            )
            if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                self.log.append({"step": self.step, "elapsed_s": round(self.elapsed_s, 3), **report.terms})
            for cb in self.callbacks:
                cb.on_step(report)
            if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                self.save()
        for cb in self.callbacks:
            cb.on_end(report)
        return report
