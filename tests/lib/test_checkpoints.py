"""fit(..., checkpoint_every=k) and restore: go back to an earlier, healthy state and go on."""

import math

import pytest
import torch
from failing_models import NaNAfter

from rnnlib import LSTMCell, RNNCell, seed_everything
from rnnlib.models import SequenceModel
from rnnlib.tasks import AddingProblem
from rnnlib.train import Checkpoint, NonFiniteLossError, fit, restore

CPU = torch.device("cpu")


def fit_small(model, lr, steps, **options):
    """SGD on the adding problem of length 5, on the CPU, without a progress bar."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(model, AddingProblem(5), optimizer, steps, device=CPU, progress=False, **options)


def small_lstm(seed=0):
    seed_everything(seed)
    return SequenceModel(LSTMCell(2, 8), output_size=1)


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def test_without_checkpoint_every_no_checkpoint_is_kept():
    model = small_lstm()
    history = fit_small(model, lr=0.01, steps=5)
    assert history.checkpoints == []


@pytest.mark.parametrize(
    ("steps", "every", "expected"), [(10, 3, [0, 3, 6, 9]), (4, 1, [0, 1, 2, 3]), (5, 10, [0])]
)
def test_checkpoints_are_taken_at_multiples_of_checkpoint_every(steps, every, expected):
    model = small_lstm()
    history = fit_small(model, lr=0.01, steps=steps, checkpoint_every=every)
    assert [c.step for c in history.checkpoints] == expected
    assert all(isinstance(c, Checkpoint) for c in history.checkpoints)
    assert [c.loss for c in history.checkpoints] == [history.loss[s] for s in expected]


def test_a_checkpoint_holds_the_parameters_before_its_step_and_does_not_alias_the_model():
    model = small_lstm()
    start = flat(model).clone()
    history = fit_small(model, lr=0.1, steps=3, checkpoint_every=1)
    first = torch.cat([v.reshape(-1) for v in history.checkpoints[0].model_state.values()])
    assert torch.equal(first, start), "the checkpoint of step 0 is the initial model"
    assert not torch.equal(flat(model), start), "training moved on; the copy did not"


def test_restore_brings_back_parameters_and_optimizer_state_and_sets_the_learning_rate():
    model = small_lstm()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history = fit(
        model, AddingProblem(5), optimizer, 6, device=CPU, progress=False, checkpoint_every=3
    )
    checkpoint = history.checkpoints[-1]
    saved = {k: v.clone() for k, v in checkpoint.model_state.items()}
    restore(model, optimizer, checkpoint, lr=1e-4)
    for name, value in model.state_dict().items():
        assert torch.equal(value, saved[name])
    assert all(group["lr"] == 1e-4 for group in optimizer.param_groups)
    # Adam's step count is that of the start of step 3: three updates were taken before it.
    assert all(int(state["step"]) == 3 for state in optimizer.state.values())
    # Training after the restore leaves the checkpoint itself unchanged.
    fit(model, AddingProblem(5), optimizer, 2, device=CPU, progress=False, seed=1)
    for name, value in checkpoint.model_state.items():
        assert torch.equal(value, saved[name])


def test_restore_without_lr_keeps_the_checkpoints_learning_rate():
    model = small_lstm()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    history = fit(
        model, AddingProblem(5), optimizer, 2, device=CPU, progress=False, checkpoint_every=1
    )
    optimizer.param_groups[0]["lr"] = 0.5
    restore(model, optimizer, history.checkpoints[0])
    assert optimizer.param_groups[0]["lr"] == 0.05


def test_only_finite_steps_are_checkpointed_and_the_error_carries_them():
    model = NaNAfter(small_lstm(), after=5)
    with pytest.raises(NonFiniteLossError) as caught:
        fit(
            model,
            AddingProblem(5),
            torch.optim.SGD(model.parameters(), lr=0.01),
            20,
            device=CPU,
            progress=False,
            checkpoint_every=2,
        )
    assert caught.value.step == 5
    assert [c.step for c in caught.value.history.checkpoints] == [0, 2, 4]
    assert all(math.isfinite(c.loss) for c in caught.value.history.checkpoints)


def test_continue_mode_skips_checkpoints_of_nonfinite_steps():
    model = NaNAfter(small_lstm(), after=3)
    history = fit_small(model, lr=0.01, steps=9, checkpoint_every=2, on_nonfinite="continue")
    assert [c.step for c in history.checkpoints] == [0, 2]


def test_restarting_a_run_that_blew_up_from_its_last_checkpoint_with_a_smaller_lr_stays_finite():
    # A vanilla RNN with spectral radius 3 at lr 1 overflows within a few steps (seeds 0-4).
    seed_everything(0)
    cell = RNNCell(2, 16)
    with torch.no_grad():
        cell.W_h.copy_(3.0 * torch.linalg.qr(torch.randn(16, 16))[0])
    model = SequenceModel(cell, output_size=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    task = AddingProblem(10)
    with pytest.raises(NonFiniteLossError) as caught:
        fit(model, task, optimizer, 200, device=CPU, progress=False, checkpoint_every=1)
    checkpoint = caught.value.history.checkpoints[0]
    restore(model, optimizer, checkpoint, lr=0.001)
    history = fit(model, task, optimizer, 50, device=CPU, progress=False, seed=1)
    assert all(math.isfinite(v) for v in history.loss)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_checkpoint_every_must_be_a_positive_integer(bad):
    model = small_lstm()
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit(
            model,
            AddingProblem(5),
            torch.optim.SGD(model.parameters(), lr=0.01),
            1,
            device=CPU,
            progress=False,
            checkpoint_every=bad,
        )


def test_restore_refuses_what_is_not_a_checkpoint_and_a_nonpositive_lr():
    model = small_lstm()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(ValueError, match="Checkpoint"):
        restore(model, optimizer, model.state_dict())
    history = fit(
        model, AddingProblem(5), optimizer, 1, device=CPU, progress=False, checkpoint_every=1
    )
    with pytest.raises(ValueError, match="lr"):
        restore(model, optimizer, history.checkpoints[0], lr=0.0)
