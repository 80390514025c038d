"""`divekit train`: tuple sampler, self-supervised objective by variant, Φ, the command and its bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from test_cli import assert_one_line_error, run

from divekit.checkpoint import load_checkpoint
from divekit.config import LossConfig, preset
from divekit.data import load_clip
from divekit.errors import DivekitError
from divekit.model import DiveNet
from divekit.pose import PoseConfig, PoseModel, PoseRegressor, fit_regressor, load_pose_model, save_pose_model
from divekit.sampling import TupleSampler
from divekit.selfsup import (
    SelfSupConfig,
    SelfSupModel,
    SelfSupObjective,
    Theta,
    Variant,
    decorrelation_loss,
    ti_contrast_loss,
    uv_to_crop,
)
from divekit.skeleton import JOINTS
from divekit.trainrun import validation_videos

TINY_TRAIN_TOML = """
[train]
batch = 2
checkpoint_every = 2
log_every = 1
[pose]
steps = 30
batch = 32
"""


# --- tuple sampler ---------------------------------------------------------------------------


def test_tuple_sampler_distances_follow_time_not_index():
    # clip 0 at 30 fps, clip 1 switches to 60 fps halfway: distances are in frames of the median interval
    t0 = np.arange(90) / 30
    t1 = np.concatenate([np.arange(45) / 30, 45 / 30 + np.arange(1, 91) / 60])
    sampler = TupleSampler([t0, t1], batch=64, d_pos=3, d_neg=20, seed=1)
    for _ in range(5):
        batch = sampler.sample()
        assert batch.frames.shape == (64, 4) and batch.distance.shape == (64, 3)
        for clip, frames, dist in zip(batch.clip, batch.frames, batch.distance, strict=True):
            t = (t0, t1)[clip]
            dt = np.median(np.diff(t))
            expect = np.abs(t[frames[1:]] - t[frames[0]]) / dt
            np.testing.assert_allclose(dist, expect)
            near, inter, far = dist
            assert 0 < near <= 3 + 1e-9 and far >= 20 - 1e-9
            assert near < inter < far or inter == near  # strictly between, unless nothing lies between
            # near and intermediate are on the far frame's side of the reference
            side = np.sign(t[frames[1:]] - t[frames[0]])
            assert (side == side[-1]).all()


def test_tuple_sampler_is_seeded_restorable_and_respects_ref_pools():
    times = [np.arange(60) / 25.0, np.arange(40) / 25.0]
    a = TupleSampler(times, batch=8, seed=3, ref_pools=[np.array([10, 20]), None])
    state = a.state_dict()
    first = a.sample()
    a.load_state_dict(state)
    again = a.sample()
    np.testing.assert_array_equal(first.frames, again.frames)
    for _ in range(10):
        batch = a.sample()
        refs = batch.frames[batch.clip == 0, 0]
        assert set(refs.tolist()) <= {10, 20}


def test_tuple_sampler_short_clip_takes_its_farthest_frame():
    sampler = TupleSampler([np.arange(8) / 30.0], batch=16, d_pos=3, d_neg=20, seed=0)
    batch = sampler.sample()
    ref, far = batch.frames[:, 0], batch.frames[:, 3]
    np.testing.assert_array_equal(far, np.where(ref < 3.5, 7, 0))
    assert (batch.frames[:, 1] != batch.frames[:, 0]).all()


# --- pieces of the objective --------------------------------------------------------------------


def test_ti_contrast_pulls_one_clip_together_and_pushes_clips_apart():
    # rows 0, 1 from clip 0; row 2 from clip 1.
    # sims: (0,1): 1/√2·... computed: a=(1,0), b=(1,1)/√2 -> sim 0.7071; (0,2): a·c = 0 -> 0; (1,2): c=(0,1) -> 0.7071
    ti = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    clip = torch.tensor([0, 0, 1])
    # same clip, d = 0: weight 1 on |1 - 0.7071| = 0.2929; across clips, weight 1 on |sim|: 0 and 0.7071
    expected = (0.29289 + 0.0 + 0.70711) / 3
    assert ti_contrast_loss(ti, clip).item() == pytest.approx(expected, abs=1e-4)


def test_decorrelation_loss_by_hand():
    # columns a = (1, -1, 0), b = (1, 0, -1), c = a: corr(a, b) = 1 / (√2·√2) = 0.5, corr(a, c) = 1,
    # corr(b, c) = 0.5; the six ordered pairs give 2·(0.25 + 1 + 0.25) = 3, over 3·2 pairs: 0.5
    z = torch.tensor([[1.0, 1.0, 1.0], [-1.0, 0.0, -1.0], [0.0, -1.0, 0.0]])
    assert decorrelation_loss(z).item() == pytest.approx(0.5)
    assert decorrelation_loss(z + 7.0).item() == pytest.approx(0.5)  # centred over the batch
    assert decorrelation_loss(z * torch.tensor([3.0, -2.0, 0.5])).item() == pytest.approx(0.5)  # scale-free
    independent = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert decorrelation_loss(independent).item() == pytest.approx(0.0)


def test_uv_to_crop_maps_the_box_corners_to_minus_one_and_one():
    # a 200x400 video; box centred at pixel (50, 300), 40 px wide, 100 px tall:
    # u_x = 2*50/200 - 1 = -0.5, u_y = 2*300/400 - 1 = 0.5, s_x = 40/200 = 0.2, s_y = 100/400 = 0.25
    box = torch.tensor([[0.2, 0.25, -0.5, 0.5]])
    uv = torch.tensor([[[30.0, 250.0], [70.0, 350.0], [50.0, 300.0]]])
    out = uv_to_crop(uv, box, torch.tensor([[200.0, 400.0]]))
    np.testing.assert_allclose(out[0].numpy(), [[-1, -1], [1, 1], [0, 0]], atol=1e-6)


@pytest.fixture(scope="module")
def clips(dive_folder):
    return [load_clip(dive_folder / f"dive{i}.mp4", (128, 256)) for i in range(2)]


def objective_terms(clips, variant: str, *, weak_2d: bool = False, decorrelate: float = 0.0) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    net = DiveNet(preset("small", frame_size=(128, 256)))
    uv = None
    theta = None
    if weak_2d:
        theta = Theta(net.config.tv_dim)
        uv = [{f: np.full((13, 2), 20.0) for f in range(len(c))} for c in clips]
    model = SelfSupModel(net, theta)
    cfg = SelfSupConfig(variant=variant, decorrelate=decorrelate)
    objective = SelfSupObjective(model, clips, LossConfig(), cfg, None, uv)
    sampler = TupleSampler([c.times for c in clips], batch=3, seed=0)
    terms = objective(sampler.sample(), 0)
    terms["total"].backward()
    return terms


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("ours", {"recon", "dsl", "ti", "total"}),
        ("css", {"css", "total"}),
        ("ae", {"recon", "total"}),
        ("nosplit", {"recon", "dsl", "total"}),
    ],
)
def test_each_variant_optimises_its_own_terms(clips, variant, expected):
    terms = objective_terms(clips, variant)
    assert set(terms) == expected
    assert all(torch.isfinite(v) for v in terms.values())
    loss = LossConfig()
    if variant == "ours":
        alpha = loss.alpha
        want = terms["recon"] + alpha * terms["dsl"] + alpha * terms["ti"]
        assert terms["total"].item() == pytest.approx(want.item(), rel=1e-5)


@pytest.mark.parametrize("variant, has_term", [("ours", True), ("nosplit", True), ("ae", False), ("css", False)])
def test_decorrelation_joins_the_dsl_variants_weighted_by_alpha(clips, variant, has_term):
    terms = objective_terms(clips, variant, decorrelate=10.0)
    assert ("decor" in terms) == has_term
    if variant == "ours":
        alpha = LossConfig().alpha
        want = terms["recon"] + alpha * (terms["dsl"] + terms["ti"]) + alpha * 10.0 * terms["decor"]
        assert terms["total"].item() == pytest.approx(want.item(), rel=1e-5)
        assert 0.0 < terms["decor"].item() < 1.0
    with pytest.raises(DivekitError, match="decorrelate"):
        SelfSupConfig(decorrelate=-1.0)


def test_weak_2d_labels_add_eq13_weighted_by_eta(clips):
    terms = objective_terms(clips, "ours", weak_2d=True)
    assert "pose2d" in terms and terms["pose2d"].item() > 0
    eta, alpha = LossConfig().eta, LossConfig().alpha
    want = terms["recon"] + alpha * (terms["dsl"] + terms["ti"]) + eta * terms["pose2d"]
    assert terms["total"].item() == pytest.approx(want.item(), rel=1e-5)


def test_variants_are_named():
    assert Variant.named("ours") == Variant(decode=True, contrastive="dsl", split=True)
    assert not Variant.named("css").decode and not Variant.named("nosplit").split


# --- Φ ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "residual"])
def test_regressors_have_the_papers_shapes(kind):
    phi = PoseRegressor(kind=kind, in_dim=7)
    assert phi(torch.randn(5, 7)).shape == (5, 13, 3)
    widths = {m.out_features for m in phi.modules() if isinstance(m, torch.nn.Linear)}
    assert widths == ({2048, 39} if kind == "mlp" else {1024, 39})
    if kind == "residual":
        assert sum(isinstance(m, torch.nn.Linear) for m in phi.modules()) == 1 + 3 * 2 + 1


def test_fit_regressor_learns_a_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    w = rng.normal(size=(6, 39)) * 0.1
    y = (x @ w).reshape(-1, 13, 3)
    phi, losses = fit_regressor(x, y, PoseConfig(steps=300, dropout=0.0, batch=64))
    pred = phi(torch.from_numpy(x).float()).detach().numpy()
    baseline = np.abs(y).mean()
    assert np.abs(pred - y).mean() < 0.2 * baseline
    assert losses[-1] < 0.1 * losses[0]


def test_pose_model_round_trips_in_half_precision(tmp_path):
    torch.manual_seed(0)
    net = DiveNet(preset("small", frame_size=(128, 256)))
    phi = PoseRegressor(kind="mlp", in_dim=net.config.tv_dim)
    model = PoseModel(net, None, phi, "ours", PoseConfig()).eval()
    save_pose_model(tmp_path / "m.pt", model, record={}, half=True)
    loaded, record = load_pose_model(tmp_path / "m.pt")
    assert record["half"] is True and record["variant"] == "ours"
    frames = torch.rand(2, 3, 256, 128)
    box_a, joints_a = model(frames, frames * 0.5)
    box_b, joints_b = loaded(frames, frames * 0.5)
    torch.testing.assert_close(box_a, box_b, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(joints_a, joints_b, atol=5e-3, rtol=1e-2)


def test_validation_videos_prefer_val_then_splits_then_last_fifth(tmp_path):
    videos = [tmp_path / f"c{i}.mp4" for i in range(6)]
    labelled = [f"c{i}" for i in range(6)]
    assert validation_videos(videos, labelled, ["c2.mp4"]) == ["c2"]
    assert validation_videos(videos, labelled, None) == ["c5"]
    (tmp_path / "splits.json").write_text(json.dumps({"heldout": ["c1", "c3"]}))
    assert validation_videos(videos, labelled, None) == ["c1", "c3"]
    assert validation_videos(videos[:1], ["c0"], None) == []


# --- the command ------------------------------------------------------------------------------


@pytest.fixture()
def train_config(tmp_path):
    path = tmp_path / "train.toml"
    path.write_text(TINY_TRAIN_TOML)
    return path


def train(dive_folder, grav_run, out, config, *extra):
    return run("train", dive_folder, "--init", grav_run, "-o", out, "--config", config, *extra)


def test_train_writes_model_poses_metrics_and_plots(tmp_path, dive_folder, grav_run, train_config):
    out = tmp_path / "run"
    result = train(dive_folder, grav_run, out, train_config, "--labels", dive_folder, "--steps", 2)
    assert result.exit_code == 0, result.stderr
    for name in ("checkpoint.pt", "model.pt", "poses.csv", "metrics.json", "losses.png", "swap.png", "boxes.csv"):
        assert (out / name).stat().st_size > 0, name
    poses = pd.read_csv(out / "poses.csv")
    assert list(poses.columns) == ["video", "frame", "time_s", "joint", "x", "y", "z"]
    truth = pd.read_csv(dive_folder / "dive0.truth.csv")
    assert len(poses[poses.video == "dive0"]) == len(truth)
    assert set(poses.joint) == set(JOINTS)
    metrics = json.loads((out / "metrics.json").read_text())
    # no splits.json there: the last fifth of two labelled videos is the second one
    assert metrics["validation_videos"] == ["dive1"] and metrics["train_videos"] == ["dive0"]
    assert metrics["validation"]["frames"] == truth.frame.nunique() or metrics["validation"]["frames"] > 0
    assert {"mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm", "per_joint"} <= set(metrics["validation"])
    record, state = load_checkpoint(out)
    assert record["stage"] == "train" and record["selfsup"]["variant"] == "ours" and state["step"] == 2
    # poses.csv is a label file: `divekit evaluate` reads it against the synth truth as it is
    evaluated = run("evaluate", out / "poses.csv", dive_folder)
    assert evaluated.exit_code == 0, evaluated.stderr


def test_label_fraction_takes_every_kth_frame(tmp_path, dive_folder, grav_run, train_config):
    out = tmp_path / "frac"
    result = train(dive_folder, grav_run, out, train_config, "--labels", dive_folder, "--steps", 1,
                   "--label-fraction", 0.2, "--variant", "css")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    frames = pd.read_csv(dive_folder / "dive0.truth.csv").frame.nunique()
    assert metrics["train_labelled_frames"] == len(range(0, frames, 5))
    assert not (out / "swap.png").exists()  # css does not decode


def test_train_resume_continues_exactly(tmp_path, dive_folder, grav_run, train_config):
    assert train(dive_folder, grav_run, tmp_path / "a", train_config, "--steps", 4).exit_code == 0
    assert train(dive_folder, grav_run, tmp_path / "b", train_config, "--steps", 2).exit_code == 0
    result = run("train", dive_folder, "-o", tmp_path / "b", "--steps", 4, "--resume")
    assert result.exit_code == 0, result.stderr
    _, a = load_checkpoint(tmp_path / "a")
    _, b = load_checkpoint(tmp_path / "b")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_train_takes_decorrelate_from_the_selfsup_settings(tmp_path, dive_folder, grav_run):
    config = tmp_path / "decor.toml"
    config.write_text(TINY_TRAIN_TOML + "[selfsup]\ndecorrelate = 10.0\n")
    out = tmp_path / "decor"
    result = train(dive_folder, grav_run, out, config, "--steps", 1)
    assert result.exit_code == 0, result.stderr
    record, _ = load_checkpoint(out)
    assert record["selfsup"]["decorrelate"] == 10.0
    losses = pd.read_csv(out / "losses.csv")
    assert "decor" in losses.columns and losses["decor"].notna().all()


def _labels_with(tmp_path, dive_folder, edit) -> str:
    df = pd.read_csv(dive_folder / "dive0.truth.csv")
    df = edit(df)
    path = tmp_path / "dive0.truth.csv"
    df.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.drop(columns=["joint"]), "joint"),
        (lambda d: d.replace({"joint": {"head": "hat"}}), "hat"),
        (lambda d: d.assign(x=d.x.where(d.index != 5, np.nan)), "finite"),
        (lambda d: d.assign(frame=d.frame + 1000), "frame"),
    ],
)
def test_bad_labels_give_one_line(tmp_path, dive_folder, grav_run, train_config, edit, message):
    labels = _labels_with(tmp_path, dive_folder, edit)
    result = train(dive_folder, grav_run, tmp_path / "run", train_config, "--labels", labels, "--steps", 1)
    assert_one_line_error(result, message)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_bad_init_fraction_and_variant_give_one_line(tmp_path, dive_folder, grav_run, train_config):
    not_ckpt = tmp_path / "x.pt"
    not_ckpt.write_text("hello")
    assert_one_line_error(train(dive_folder, not_ckpt, tmp_path / "r1", train_config), "checkpoint")
    for fraction in ("0", "1.5", "-0.1"):
        result = train(dive_folder, grav_run, tmp_path / "r2", train_config, "--label-fraction", fraction)
        assert_one_line_error(result, "label-fraction")
    assert_one_line_error(train(dive_folder, grav_run, tmp_path / "r3", train_config, "--variant", "vae"), "variant")
    # a train run is not a pretrain-gravity run
    out = tmp_path / "r4"
    assert train(dive_folder, grav_run, out, train_config, "--steps", 1).exit_code == 0
    assert_one_line_error(train(dive_folder, out, tmp_path / "r5", train_config), "pretrain-gravity")


def test_train_refuses_to_overwrite_a_run(tmp_path, dive_folder, grav_run, train_config):
    out = tmp_path / "run"
    assert train(dive_folder, grav_run, out, train_config, "--steps", 1).exit_code == 0
    before = (out / "checkpoint.pt").read_bytes()
    assert_one_line_error(train(dive_folder, grav_run, out, train_config, "--steps", 1), "--force")
    assert (out / "checkpoint.pt").read_bytes() == before


def test_labels_of_other_videos_are_ignored_but_none_matching_is_an_error(
    tmp_path, dive_folder, grav_run, train_config
):
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(dive_folder / "dive0.mp4", only)
    shutil.copy(dive_folder / "dive0.background.png", only)
    result = run("train", only, "--init", grav_run, "-o", tmp_path / "r", "--config", train_config,
                 "--labels", dive_folder, "--steps", 1)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["labelled_videos_not_in_inputs"] == ["dive1"] and metrics["validation"] is None
    other = tmp_path / "dive9.truth.csv"
    shutil.copy(dive_folder / "dive1.truth.csv", other)
    result = run("train", only, "--init", grav_run, "-o", tmp_path / "r2", "--config", train_config,
                 "--labels", other, "--steps", 1)  # fmt: skip
    assert_one_line_error(result, "among the inputs")
