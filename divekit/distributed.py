"""Data-parallel training over several processes (PyTorch DDP), launched by ``torchrun``.

    torchrun --nproc_per_node=4 -m divekit pretrain-gravity clips/ -o run
    torchrun --nnodes=2 --node_rank=0 --master_addr=HOST --nproc_per_node=2 -m divekit pretrain-gravity ...

A plain ``python -m divekit ...`` is the world-size-1 case of the same code: every helper here is a
no-op when ``WORLD_SIZE`` is unset or 1, and :func:`wrap_model` returns the model unchanged.

Semantics (what the engine in :mod:`divekit.training` does with these helpers):

- **Batches.** Every rank draws its own ``batch`` samples from a sampler seeded with
  ``seed + rank``; DDP averages the gradients, so one step sees a *global batch of batch x world
  size* samples at the same learning rate (the gradient of the mean of the per-rank losses). Four
  processes at ``batch = 4`` train like one process at ``batch = 16``, not like one process at
  ``batch = 4`` for four times as many steps; divide ``steps`` by the world size to see as many samples.
- **Weights** start equal (same seed; DDP also broadcasts rank 0's at wrap time) and stay equal:
  every rank applies the same averaged gradient. Each checkpoint records a digest of every rank's
  weights and the save fails loudly if they differ (an objective that calls the unwrapped model
  bypasses DDP and silently trains independent replicas).
- **Outputs.** Rank 0 writes the checkpoint, losses.csv and every other file. At a checkpoint
  the other ranks wait at a barrier until it is on disk; after the last one they simply end (rank 0
  may take long to predict every frame, longer than a collective may wait) and torchrun returns
  when rank 0 is done. Loss terms in the log and on screen are the mean over ranks.
- **Resume.** Rank 0's checkpoint holds every rank's sampler and RNG state (gathered with
  ``all_gather_object``); each rank restores its own, so a resumed run continues exactly. It must be
  resumed with the same number of processes (refused otherwise) and, as any run, the same torch
  thread count (the bits depend on it; torchrun sets OMP_NUM_THREADS=1). Every rank reads the
  checkpoint and the inputs, so on several machines the run folder and the videos must be at the
  same path on each (shared storage).

Backend: ``nccl`` when CUDA is available (each process on GPU ``LOCAL_RANK``), else ``gloo``;
pretrain-gravity asks for ``gloo`` everywhere, as its objective builds its batches on the CPU.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist

from divekit.errors import DivekitError


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise DivekitError(f"environment variable {name}={value!r} is not a whole number") from None


def launched() -> bool:
    """True when started by torchrun (or another launcher) with more than one process."""
    return _env_int("WORLD_SIZE", 1) > 1


def init_from_env(backend: str | None = None) -> int:
    """Join the process group described by torchrun's WORLD_SIZE/RANK/LOCAL_RANK; return the world size.

    Without those variables (or with WORLD_SIZE=1) nothing is initialised and 1 is returned.
    ``backend`` defaults to nccl when CUDA is available, else gloo; a stage whose objective builds
    its batches on the CPU (pretrain-gravity) asks for gloo.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return 1
    if not dist.is_available():
        raise DivekitError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise DivekitError(f"WORLD_SIZE={size} but {name} is not set; launch with torchrun")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend=backend)
    return dist.get_world_size()


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0) if is_initialized() else 0


def is_main() -> bool:
    """True on the process that writes files and talks to the user (rank 0, or the only process)."""
    return rank() == 0


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def device() -> torch.device:
    """Where this rank's model lives: its GPU under nccl, else the CPU."""
    if is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", local_rank())
    return torch.device("cpu")


def wrap_model(model: torch.nn.Module, **ddp_options: Any) -> torch.nn.Module:
    """The model as DistributedDataParallel when several processes run, else unchanged.

    The objective must call the returned module (its forward is what triggers gradient
    averaging); the optimizer and checkpoints use :func:`unwrap` of it.
    """
    if world_size() <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    model.to(device())
    ids = [local_rank()] if device().type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, **ddp_options)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The bare module inside a DistributedDataParallel wrapper (or the module itself)."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state_dict (names, dtypes, shapes, bytes): equal iff the weights are."""
    h = hashlib.sha256()
    for name, tensor in state.items():
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def all_gather_object(obj: Any) -> list[Any]:
    """``obj`` from every rank, in rank order (``[obj]`` in a single process)."""
    if not is_initialized():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup() -> None:
    """Leave the process group (a no-op in a single process)."""
    if is_initialized():
        dist.destroy_process_group()
