"""Forward + backward time of one DiveNet training step on this CPU, for both presets.

The step is what training does per batch: detect, crop, colour-jitter the tv crop, encode, swap ti
across the batch, decode, uncrop, composite (Eq. 1), the reconstruction loss (Eq. 2) with the given
feature net, and backward. The optimizer update is excluded (it is the same few ms for any loss).

    python benchmarks/bench_model.py                  # small at batch 4/8/16, paper at batch 2
    python benchmarks/bench_model.py --features random --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from divekit.config import preset
from divekit.features import build_feature_extractor
from divekit.losses import reconstruction_loss
from divekit.model import DiveNet, color_jitter, count_parameters


def step_times(name: str, batch: int, features: str, repeats: int, warmup: int = 1) -> list[float]:
    torch.manual_seed(0)
    cfg = preset(name)
    model = DiveNet(cfg).train()
    feats = build_feature_extractor(features)
    w, h = cfg.frame_size
    frame, background = torch.rand(batch, 3, h, w), torch.rand(batch, 3, h, w)
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        out = model(frame, background, ti_perm=torch.randperm(batch), jitter=lambda c: color_jitter(c, gen))
        loss = reconstruction_loss(out.target, out.recon, feats, lam=2.0, rho=2.0)
        model.zero_grad(set_to_none=True)
        loss.backward()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="pyramid", choices=["pyramid", "random", "none"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--small-batches", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--skip-paper", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    runs = [("small", b) for b in args.small_batches] + ([] if args.skip_paper else [("paper", 2)])
    print(
        f"torch {torch.__version__}, {args.threads} threads, feature net {args.features!r}, "
        f"{args.repeats} timed steps after 1 warm-up"
    )
    print(f"{'preset':<7} {'params':>11} {'frame WxH':>10} {'batch':>5} {'median s':>9} {'min s':>7} {'frames/s':>9}")
    for name, batch in runs:
        cfg = preset(name)
        times = step_times(name, batch, args.features, args.repeats)
        med = statistics.median(times)
        params = count_parameters(DiveNet(cfg))
        size = f"{cfg.frame_size[0]}x{cfg.frame_size[1]}"
        print(f"{name:<7} {params:>11,} {size:>10} {batch:>5} {med:>9.3f} {min(times):>7.3f} {batch / med:>9.1f}")


if __name__ == "__main__":
    main()
