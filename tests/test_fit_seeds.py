"""rnnlib.train.fit_seeds: several seeds trained as one batched model, each as it would alone."""

import pytest
import torch

import rnnlib
from rnnlib.layers import RecurrentLayer, StackedRNN
from rnnlib.models import SequenceModel
from rnnlib.tasks import MagnitudeSum
from rnnlib.train import fit_seeds


def small_model(seed, task):
    torch.manual_seed(seed)
    layers = [
        RecurrentLayer(rnnlib.GRUCell(task.input_size, 5)),
        RecurrentLayer(rnnlib.GRUCell(5, 5)),
    ]
    return SequenceModel(StackedRNN(layers, skip="residual"), task.output_size, readout="every")


def test_each_model_trains_as_it_would_alone():
    task, steps, batch, clip = MagnitudeSum(4), 6, 8, 0.05
    together = [small_model(s, task) for s in (1, 2, 3)]
    alone = [small_model(s, task) for s in (1, 2, 3)]
    losses = fit_seeds(together, task, steps, batch_size=batch, lr=1e-2, clip_norm=clip, seed=7)
    assert losses.shape == (steps, 3)
    # the same batches, one model at a time, with its own Adam and its own clipping
    generator = torch.Generator().manual_seed(7)
    batches = [task.sample(3 * batch, generator) for _ in range(steps)]
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in alone]
    for step, (inputs, targets) in enumerate(batches):
        for i, (model, optimizer) in enumerate(zip(alone, optimizers, strict=True)):
            part = slice(i * batch, (i + 1) * batch)
            optimizer.zero_grad()
            loss = task.loss(model(inputs[part]), targets[part])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            assert losses[step, i].item() == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    for a, b in zip(together, alone, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_arguments_are_checked():
    task = MagnitudeSum(3)
    with pytest.raises(ValueError):
        fit_seeds([], task, 1)
    with pytest.raises(ValueError):
        fit_seeds([small_model(0, task)], task, -1)
    with pytest.raises(ValueError):
        fit_seeds([small_model(0, task)], task, 1, clip_norm=0.0)
