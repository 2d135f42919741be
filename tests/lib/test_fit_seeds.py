"""rnnlib.train.fit_seeds: several seeds trained as one batched model, each as it would alone."""

import pytest
import torch

import rnnlib
from rnnlib import LSTMCell, RNNCell, seed_everything
from rnnlib.layers import RecurrentLayer, StackedRNN
from rnnlib.models import SequenceModel
from rnnlib.tasks import DistantRecall, MagnitudeSum
from rnnlib.train import fit, fit_seeds

CPU = torch.device("cpu")
RECALL = DistantRecall(seq_len=6, num_tokens=4)


def recall_model(cell_class, seed):
    seed_everything(seed)
    return SequenceModel(cell_class(RECALL.input_size, 8), RECALL.output_size)


def stacked_model(seed, task):
    torch.manual_seed(seed)
    layers = [
        RecurrentLayer(rnnlib.GRUCell(task.input_size, 5)),
        RecurrentLayer(rnnlib.GRUCell(5, 5)),
    ]
    return SequenceModel(StackedRNN(layers, skip="residual"), task.output_size, readout="every")


@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell])
def test_one_model_trains_exactly_like_fit(cell_class):
    alone, together = recall_model(cell_class, 0), recall_model(cell_class, 0)
    optimizer = torch.optim.Adam(alone.parameters(), lr=1e-2)
    expected = fit(alone, RECALL, optimizer, 15, 16, seed=3, device=CPU, progress=False)
    [history] = fit_seeds([together], RECALL, 15, 16, lr=1e-2, seed=3, device=CPU)
    assert history.loss == pytest.approx(expected.loss, abs=1e-5)
    assert history.grad_norm == pytest.approx(expected.grad_norm, rel=1e-4)
    assert history.metric == pytest.approx(expected.metric, abs=1e-6)
    for a, b in zip(alone.parameters(), together.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_each_model_trains_as_it_would_alone_with_its_own_batches_adam_and_clipping():
    task, steps, batch, clip = MagnitudeSum(4), 6, 8, 0.05
    together = [stacked_model(s, task) for s in (1, 2, 3)]
    alone = [stacked_model(s, task) for s in (1, 2, 3)]
    histories = fit_seeds(
        together, task, steps, batch_size=batch, lr=1e-2, clip_norm=clip, seed=7, device=CPU
    )
    assert [len(h) for h in histories] == [steps] * 3
    # model i sees rows i*B:(i+1)*B of each batch of 3*B sequences (task.batches(3 B, seed))
    batches = task.batches(3 * batch, 7)
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-2) for m in alone]
    for step in range(steps):
        inputs, targets = next(batches)
        for i, (model, optimizer) in enumerate(zip(alone, optimizers, strict=True)):
            part = slice(i * batch, (i + 1) * batch)
            optimizer.zero_grad()
            loss = task.loss(model(inputs[part]), targets[part])
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            history = histories[i]
            assert history.loss[step] == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
            assert history.grad_norm[step] == pytest.approx(norm.item(), rel=1e-4)
            assert history.clipped[step] == (norm.item() > clip)
            assert history.grad_norm_clipped[step] <= clip * (1 + 1e-5)
    for a, b in zip(together, alone, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_a_task_without_a_metric_records_none():
    class Regression:
        def sample(self, batch_size, generator):
            x = torch.randn(batch_size, 3, generator=generator)
            return x, x.sum(1, keepdim=True)

        def loss(self, prediction, targets):
            return torch.nn.functional.mse_loss(prediction, targets)

    torch.manual_seed(0)
    [history] = fit_seeds([torch.nn.Linear(3, 1)], Regression(), 200, 16, lr=0.05, device=CPU)
    assert len(history.loss) == 200 and history.metric == []
    # a linear target: the loss falls by orders of magnitude
    assert max(history.loss[-10:]) < 1e-2 * min(history.loss[:10])


def test_arguments_are_checked():
    task = MagnitudeSum(3)
    with pytest.raises(ValueError, match="empty"):
        fit_seeds([], task, 1)
    with pytest.raises(ValueError, match="steps"):
        fit_seeds([stacked_model(0, task)], task, -1)
    with pytest.raises(ValueError, match="clip_norm"):
        fit_seeds([stacked_model(0, task)], task, 1, clip_norm=0.0)
