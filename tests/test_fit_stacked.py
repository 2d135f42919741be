"""fit_stacked: several models trained as one batched model are independent trainings."""

import pytest
import torch

from rnnlib import LSTMCell, RNNCell, seed_everything
from rnnlib.models import SequenceModel
from rnnlib.tasks import DistantRecall
from rnnlib.train import fit, fit_stacked

CPU = torch.device("cpu")
TASK = DistantRecall(seq_len=6, num_tokens=4)


def model(cell_class, seed):
    seed_everything(seed)
    return SequenceModel(cell_class(TASK.input_size, 8), TASK.output_size)


@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell])
def test_one_stacked_model_trains_exactly_like_fit(cell_class):
    alone, stacked = model(cell_class, 0), model(cell_class, 0)
    optimizer = torch.optim.Adam(alone.parameters(), lr=1e-2)
    expected = fit(alone, TASK, optimizer, 15, 16, seed=3, device=CPU, progress=False)
    [history] = fit_stacked([stacked], TASK, 15, 16, lr=1e-2, seed=3, device=CPU)
    assert history.loss == pytest.approx(expected.loss, abs=1e-5)
    assert history.grad_norm == pytest.approx(expected.grad_norm, rel=1e-4)
    for a, b in zip(alone.parameters(), stacked.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_each_stacked_model_is_trained_on_its_own_block_of_the_batch():
    # model i of a stack sees rows i*B:(i+1)*B of each batch of k*B sequences
    models = [model(RNNCell, seed) for seed in (5, 6)]
    reference = model(RNNCell, 6)
    histories = fit_stacked(models, TASK, 10, 8, lr=1e-2, seed=1, device=CPU)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2)
    batches = TASK.batches(16, 1)
    for step in range(10):
        x, y = next(batches)
        optimizer.zero_grad()
        loss = TASK.loss(reference(x[8:]), y[8:])
        loss.backward()
        optimizer.step()
        assert histories[1].loss[step] == pytest.approx(loss.item(), abs=1e-5)
    for a, b in zip(reference.parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert len(histories) == 2 and len(histories[0]) == 10


def test_fit_stacked_rejects_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        fit_stacked([], TASK, 1)
    with pytest.raises(ValueError, match="steps"):
        fit_stacked([model(RNNCell, 0)], TASK, -1)
