"""`torchrun --nproc_per_node=2 -m divekit pretrain-gravity | train`: DDP on CPU (gloo), one set of outputs,
identical replicas, per-rank batches, and an exact resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_training import toy_trainer

from divekit import distributed
from divekit.checkpoint import load_checkpoint
from divekit.errors import DivekitError

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()), reason="needs gloo"
)

OUTPUTS = {"checkpoint.pt", "boxes.csv", "losses.csv", "losses.png", "heights.png", "preview.png"}


def torchrun(folder: Path, out: Path, *extra) -> subprocess.Popen:
    # --standalone: a free local rendezvous port, so parallel launches (and other users) do not clash
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args += ["-m", "divekit", "pretrain-gravity", folder, "-o", out, *extra]
    return subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out


def test_two_processes_train_one_model_and_resume_exactly(tmp_path, dive_folder, tiny_config):
    straight, split = tmp_path / "straight", tmp_path / "split"
    # two launches side by side: 4 steps straight, and the first 2 steps of a run resumed below
    a = torchrun(dive_folder, straight, "--steps", 4, "--config", tiny_config)
    b = torchrun(dive_folder, split, "--steps", 2, "--config", tiny_config)
    stdout = finish(a)
    finish(b)

    # one set of outputs, written by rank 0; only rank 0 printed its summary
    assert {p.name for p in straight.iterdir()} == OUTPUTS
    assert stdout.count("trained 4 steps") == 1, stdout
    _, state = load_checkpoint(straight)
    assert state["world_size"] == 2 and state["step"] == 4
    # the replicas held identical weights at every checkpoint, and they are the saved ones
    digests = {rank["weights"] for rank in state["ranks"]}
    assert digests == {distributed.state_digest(state["model"])}
    # each rank drew its own batches (sampler seeded with seed + rank)
    assert state["ranks"][0]["sampler"] != state["ranks"][1]["sampler"]
    assert state["sampler"] == state["ranks"][0]["sampler"]

    finish(torchrun(dive_folder, split, "--steps", 4, "--resume"))
    _, resumed = load_checkpoint(split)
    assert resumed["step"] == 4
    for key, value in state["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert {p.name for p in split.iterdir()} == OUTPUTS


def test_a_single_process_refuses_to_resume_a_two_process_run(tmp_path):
    """Its sampler and RNG states are per rank: continuing with another count would not be exact."""
    trainer = toy_trainer(tmp_path, 2)
    state = trainer.state()
    state.update(world_size=2, ranks=[{"rng": state["rng"], "sampler": state["sampler"], "weights": ""}] * 2)
    with pytest.raises(DivekitError, match=r"trained by 2 process\(es\)"):
        trainer.restore(state)
    assert distributed.world_size() == 1 and distributed.wrap_model(trainer.model) is trainer.model


def test_two_processes_run_the_train_stage_with_identical_replicas(tmp_path, dive_folder, grav_run):
    config = tmp_path / "train.toml"
    config.write_text("[train]\nbatch = 2\ncheckpoint_every = 2\n[pose]\nsteps = 10\nbatch = 16\n")
    out = tmp_path / "run"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    args += ["-m", "divekit", "train", dive_folder, "--init", grav_run, "-o", out, "--config", config,
             "--labels", dive_folder, "--steps", 2]  # fmt: skip
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout = finish(proc)
    assert stdout.count("trained 2 steps") == 1, stdout
    _, state = load_checkpoint(out)
    assert state["world_size"] == 2 and state["step"] == 2
    assert {rank["weights"] for rank in state["ranks"]} == {distributed.state_digest(state["model"])}
    assert state["ranks"][0]["sampler"] != state["ranks"][1]["sampler"]
    assert {"model.pt", "poses.csv", "metrics.json"} <= {p.name for p in out.iterdir()}
