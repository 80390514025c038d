"""What tv encodes, for DiveNets kept by ``bench_pose.py --keep``: the scene behind the diver, or the diver.

A question from the 60-minute runs: DSL asks only that tv follow how far apart two frames are in
time, and a crop also shows time through the scene behind the diver, who falls past the wall
towards the water. If tv learned that scene, DSL would be met without pose. For each net, on the
in-flight frames (± 10) of the held-out diver's clips and of 8 training clips:

- DSL (Eq. 5, d_max = d_neg = 20 frames) over every pair of frames of a clip, with tv of the crop
  as it is, of the background alone at the same box (no diver), and of the crop with the
  background set to grey (the diver alone: pixels within 12 grey levels of the background);
- the correlation, over those pairs, of tv's cosine similarities with those of the two others,
  and with minus the frames' distance in time;
- the effective rank of tv on the held-out frames (exp of the entropy of its normalised squared
  singular values): how many dimensions it uses.

    python benchmarks/bench_tv_probe.py runs/nets/init.pt runs/nets/ae.pt runs/nets/ours.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from bench_pose import effective_rank

from divekit.config import ModelConfig
from divekit.contrastive import dsl_loss
from divekit.data import load_clip
from divekit.inference import frames_to_tensor
from divekit.model import DiveNet, crop

SCENE_GREY_LEVELS = 12  # a pixel this close to the background is the scene's


@torch.no_grad()
def tv_codes(net: DiveNet, clip) -> dict[str, np.ndarray]:
    """(N, tv_dim) tv of every frame for the crop as it is, the scene alone and the diver alone."""
    background = frames_to_tensor(clip.background[None])
    out: dict[str, list] = {"crop": [], "scene": [], "diver": []}
    for lo in range(0, len(clip), 64):
        frames = frames_to_tensor(clip.frames[lo : lo + 64])
        scene = background.expand(len(frames), -1, -1, -1)
        box = net.detect(frames, scene)
        seen, behind = net.crop(frames, box), crop(scene.contiguous(), box, net.config.crop_size)
        diver = (seen - behind).abs().amax(1, keepdim=True) > SCENE_GREY_LEVELS / 255
        for key, x in (("crop", seen), ("scene", behind), ("diver", torch.where(diver, seen, 0.5))):
            out[key].append(net.encode(x)[0])
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def probe(codes: list[dict[str, np.ndarray]], flights: list[np.ndarray], d_max: float) -> dict[str, float]:
    """The DSL and correlation figures (module doc), averaged over clips, from their :func:`tv_codes`."""
    rows = []
    for clip_codes, flight in zip(codes, flights, strict=True):
        inside = np.flatnonzero(flight)
        frames = np.arange(max(0, inside[0] - 10), min(len(flight), inside[-1] + 11))
        i, j = np.triu_indices(len(frames), 1)
        d = torch.from_numpy((j - i).astype(np.float64))
        row, sims = {}, {}
        for key, z in clip_codes.items():
            z = torch.from_numpy(z[frames]).double()
            row[f"dsl_{key}"] = float(dsl_loss(z[i], z[j], d, d_max).mean())
            u = unit(z.numpy())
            sims[key] = (u @ u.T)[i, j]
        row["corr_crop_scene"] = float(np.corrcoef(sims["crop"], sims["scene"])[0, 1])
        row["corr_crop_diver"] = float(np.corrcoef(sims["crop"], sims["diver"])[0, 1])
        row["corr_crop_time"] = float(np.corrcoef(sims["crop"], -d.numpy())[0, 1])
        rows.append(row)
    return {k: round(float(np.mean([r[k] for r in rows])), 3) for k in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nets", type=Path, nargs="+", help="NAME.pt files written by bench_pose.py --keep")
    parser.add_argument("--data", type=Path, default=Path("sample_data"))
    parser.add_argument("--train-clips", type=int, default=8)
    parser.add_argument("--d-max", type=float, default=20.0)
    parser.add_argument("--out", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    splits = json.loads((args.data / "splits.json").read_text())
    names = splits["train"][: args.train_clips] + splits["heldout"]
    results = {}
    for path in args.nets:
        saved = torch.load(path, weights_only=False)
        net = DiveNet(ModelConfig.from_dict(saved["model"]))
        net.load_state_dict(saved["state"])
        net.eval()
        clips = [load_clip(args.data / f"{n}.mp4", net.config.frame_size) for n in names]
        flights = [np.asarray(json.loads((args.data / f"{n}.json").read_text())["in_flight"], bool) for n in names]
        codes = [tv_codes(net, clip) for clip in clips]
        row = probe(codes, flights, args.d_max)
        held = [c["crop"][f] for c, f, n in zip(codes, flights, names, strict=True) if n in splits["heldout"]]
        row["effective_rank_tv_heldout"] = round(effective_rank(np.concatenate(held)), 2)
        results[path.stem] = row
        print(path.stem, json.dumps(row), file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
