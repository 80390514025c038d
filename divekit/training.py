"""One training engine for every stage (pretrain-gravity, train): Adam, seeds, exact resume.

Stages differ by what they pass in, never by a copied loop: a *sampler* draws a batch (and owns a
seeded generator whose state is checkpointed) and an *objective* turns a batch into named loss
terms with a ``total``. Progress, logging to the screen and plots hook in through callbacks.

Under torchrun the same loop trains data-parallel (see :mod:`divekit.distributed`): the stage
passes ``distributed.wrap_model(model)`` as the model and calls it in its objective, seeds its
sampler with ``seed + rank``, and every rank calls ``fit``; rank 0 writes the files.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from divekit import distributed
from divekit.checkpoint import CHECKPOINT_NAME, save_checkpoint
from divekit.errors import DivekitError
from divekit.io import remove_leftovers, write_text_atomic


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch's global generators (samplers own theirs)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainConfig:
    """How long and how fast to train; saved in the checkpoint with the model config."""

    steps: int = 1500
    batch: int = 4  # samples per step and process: gravity quads (4 frames each) or DSL tuples
    lr: float = 1e-4  # Adam, fixed (paper S.1)
    seed: int = 0
    checkpoint_every: int = 100  # steps between checkpoints (resume loses at most this many)
    log_every: int = 10  # steps between rows of losses.csv

    def __post_init__(self) -> None:
        # Values come from TOML and the command line: refuse the wrong type here, in one line, rather
        # than as a TypeError deep in the loop (true, 1.5 or nan are not a number of steps).
        for name in ("steps", "batch", "seed", "checkpoint_every", "log_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise DivekitError(f"{name} must be a whole number, got {value!r}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real):
            raise DivekitError(f"learning rate must be a number, got {self.lr!r}")
        if not 0 <= self.seed < 2**63:
            raise DivekitError(f"seed must be in [0, 2**63), got {self.seed}")
        if self.steps <= 0:
            raise DivekitError(f"--steps must be positive, got {self.steps}")
        if self.batch <= 0:
            raise DivekitError(f"batch must be positive, got {self.batch}")
        if not 0 < self.lr < math.inf:
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


def _gather_terms(terms: dict[str, float]) -> list[dict[str, float]]:
    """Every rank's loss terms (``[terms]`` in a single process): one small collective per step."""
    return distributed.all_gather_object(terms)


def _mean(per_rank: list[dict[str, float]]) -> dict[str, float]:
    """Each term averaged over the ranks that have it (a single process: its own values, exactly)."""
    if len(per_rank) == 1:
        return dict(per_rank[0])
    keys = dict.fromkeys(k for terms in per_rank for k in terms)
    return {k: sum(t[k] for t in per_rank if k in t) / sum(k in t for t in per_rank) for k in keys}


@dataclass
class Trainer:
    """Runs ``cfg.steps`` optimiser steps of ``objective`` on batches from ``sampler``.

    ``record`` (JSON-able: model/loss/train configs, inputs) is stored in every checkpoint so a
    run can be rebuilt and resumed from its folder alone.

    ``model`` may be the DDP wrapper from :func:`divekit.distributed.wrap_model`; the optimizer,
    ``lr_scales`` names and checkpoints use the module inside (:attr:`module`), so checkpoints are
    the same with or without torchrun. Under torchrun ``fit``, ``save`` and ``state`` are
    collective: every rank calls them.
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
        if distributed.world_size() > 1 and self.module is self.model:
            # the objective would call a plain module: no gradient averaging, replicas drift apart
            raise ValueError("under torchrun the Trainer needs the model from divekit.distributed.wrap_model")
        groups: dict[float, list[torch.nn.Parameter]] = {}
        for name, param in self.module.named_parameters():
            if param.requires_grad:
                scale = next((v for k, v in self.lr_scales.items() if name.startswith(k)), 1.0)
                groups.setdefault(scale, []).append(param)
        self.optimizer = torch.optim.Adam(
            [{"params": params, "lr": self.cfg.lr * scale} for scale, params in sorted(groups.items())]
        )

    @property
    def module(self) -> torch.nn.Module:
        """The model being trained, outside any DDP wrapper."""
        return distributed.unwrap(self.model)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def state(self) -> dict[str, Any]:
        state = {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "rng": _rng_state(),
            "sampler": self.sampler.state_dict(),
            "log": self.log,
        }
        if distributed.world_size() > 1:
            # each rank draws its own batches: keep every rank's generators, and a digest of its
            # weights to prove the replicas agree
            mine = {
                "rng": state["rng"],
                "sampler": state["sampler"],
                "weights": distributed.state_digest(state["model"]),
            }
            state["ranks"] = distributed.all_gather_object(mine)
            state["world_size"] = len(state["ranks"])
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue exactly where a checkpoint stopped: weights, Adam moments, RNGs, sampler, log."""
        saved, now = int(state.get("world_size", 1)), distributed.world_size()
        if saved != now:
            raise DivekitError(
                f"this run was trained by {saved} process(es): resume it with as many (not {now}) to continue exactly"
            )
        mine = state["ranks"][distributed.rank()] if saved > 1 else state
        if distributed.is_main():
            remove_leftovers(self.run_dir)  # half-written checkpoints of the run that was killed
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = self.saved_step = int(state["step"])
        self.elapsed_s = float(state["elapsed_s"])
        self.sampler.load_state_dict(mine["sampler"])
        self.log = [dict(row) for row in state["log"]]
        _set_rng_state(mine["rng"])

    def save(self) -> Path:
        """Write the checkpoint and losses.csv (rank 0 only; the other ranks wait for it)."""
        state = self.state()
        digests = {r["weights"] for r in state.get("ranks", ())}
        if len(digests) > 1:
            raise RuntimeError(f"replicas diverged by step {self.step}: the objective must call the wrapped model")
        if distributed.is_main():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_checkpoint(self.checkpoint_path, config=self.record, state=state)
            write_text_atomic(self.run_dir / "losses.csv", self.log_csv())
        distributed.barrier()
        self.saved_step = self.step
        for cb in self.callbacks:
            cb.on_checkpoint(self.step, self.checkpoint_path)
        return self.checkpoint_path

    def log_csv(self) -> str:
        if not self.log:
            return "step,elapsed_s,total\n"
        out = io.StringIO()
        # a term may first appear after row 0 (e.g. when no sample of the first batch had it)
        fieldnames = list(dict.fromkeys(key for row in self.log for key in row))
        writer = csv.DictWriter(out, fieldnames=fieldnames, restval="")
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
            # every rank sees every rank's terms, so all stop together (one rank leaving would hang the rest)
            gathered = _gather_terms({k: float(v.detach()) for k, v in terms.items()})
            bad = next((values for values in gathered if not math.isfinite(values["total"])), None)
            if bad is not None:
                values = ", ".join(f"{k}={v:.4g}" for k, v in bad.items())
                kept = f"the checkpoint of step {self.saved_step} is kept" if self.saved_step else "nothing was saved"
                raise DivekitError(
                    f"training diverged at step {self.step + 1} ({values}); {kept}; try a lower learning rate"
                )
            # 3. backward (DDP averages the gradients over ranks here) and update
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            self.optimizer.step()
            self.step += 1
            self.elapsed_s += time.perf_counter() - t0
            # 4. report (terms averaged over ranks), log, checkpoint
            report = StepReport(self.step, self.cfg.steps, _mean(gathered), self.elapsed_s)
            if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps:
                self.log.append({"step": self.step, "elapsed_s": round(self.elapsed_s, 3), **report.terms})
            for cb in self.callbacks:
                cb.on_step(report)
            if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                self.save()
        for cb in self.callbacks:
            cb.on_end(report)
        return report
