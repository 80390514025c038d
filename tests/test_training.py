import numpy as np
import pytest
import torch

from divekit.checkpoint import load_checkpoint, save_checkpoint
from divekit.errors import DivekitError
from divekit.training import Callback, TrainConfig, Trainer, set_seed


class ToySampler:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def sample(self):
        return torch.from_numpy(self.rng.normal(size=(8, 3))).float()

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


def toy_trainer(run_dir, steps: int, *, blow_up_at: int | None = None, callbacks=()):
    set_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1))

    def objective(x, step):
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        if blow_up_at is not None and step + 1 >= blow_up_at:
            loss = loss * float("nan")
        return {"fit": loss.detach(), "total": loss}

    cfg = TrainConfig(steps=steps, batch=8, lr=1e-2, checkpoint_every=3, log_every=2)
    return Trainer(model, objective, ToySampler(1), cfg, run_dir, {"stage": "toy"}, callbacks)


def test_resume_is_exact(tmp_path):
    straight = toy_trainer(tmp_path / "a", 10)
    straight.fit()

    first = toy_trainer(tmp_path / "b", 7)
    first.fit()  # checkpoints at 3, 6 and 7
    _, state = load_checkpoint(tmp_path / "b")
    assert state["step"] == 7
    resumed = toy_trainer(tmp_path / "b", 10)
    resumed.restore(state)
    resumed.fit()
    for p, q in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [r["step"] for r in resumed.log] == [2, 4, 6, 7, 8, 10]
    assert (tmp_path / "b" / "losses.csv").read_text().splitlines()[0] == "step,elapsed_s,fit,total"


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tmp_path):
    trainer = toy_trainer(tmp_path, 10, blow_up_at=5)
    with pytest.raises(DivekitError, match="diverged at step 5.*checkpoint of step 3"):
        trainer.fit()
    _, state = load_checkpoint(tmp_path)
    assert state["step"] == 3


def test_callbacks_see_every_step_and_checkpoint(tmp_path):
    seen = []

    class Spy(Callback):
        def on_step(self, report):
            seen.append(("step", report.step))

        def on_checkpoint(self, step, path):
            seen.append(("ckpt", step))

    toy_trainer(tmp_path, 4, callbacks=[Spy()]).fit()
    assert seen == [("step", 1), ("step", 2), ("step", 3), ("ckpt", 3), ("step", 4), ("ckpt", 4)]


def test_train_config_rejects_non_positive_steps():
    with pytest.raises(DivekitError, match="steps must be positive"):
        TrainConfig(steps=0)


def test_checkpoint_format_and_version_are_checked(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, config={"a": 1}, state={"w": torch.ones(2)})
    config, state = load_checkpoint(path)
    assert config == {"a": 1} and torch.equal(state["w"], torch.ones(2))
    torch.save({"format": "divekit-checkpoint", "version": 99, "config": "{}"}, path)
    with pytest.raises(DivekitError, match="format version 99"):
        load_checkpoint(path)
    torch.save({"something": 1}, path)
    with pytest.raises(DivekitError, match="not a divekit checkpoint"):
        load_checkpoint(path)
    path.write_text("garbage")
    with pytest.raises(DivekitError, match="not a divekit checkpoint"):
        load_checkpoint(path)


class _Planted:
    def __reduce__(self):
        import os

        return (os.system, ("touch planted-by-pickle",))


def test_loading_never_executes_pickled_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format": "divekit-checkpoint", "version": 1, "config": "{}", "x": _Planted()}, path)
    with pytest.raises(DivekitError, match="refusing to load"):
        load_checkpoint(path)
    assert not (tmp_path / "planted-by-pickle").exists()
