"""The synthetic tasks: structure, chance baselines checked empirically, determinism, errors."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from rnnlib.tasks import AddingProblem, AnBn, CopyMemory, DistantRecall, TemporalOrder

ALL_TASKS = [
    lambda T: AddingProblem(T),
    lambda T: TemporalOrder(T),
    lambda T: DistantRecall(T),
    lambda T: CopyMemory(T),
    lambda T: AnBn(T),
]
IDS = ["adding", "temporal_order", "distant_recall", "copy_memory", "anbn"]


def sample(task, batch_size, seed=0):
    return task.sample(batch_size, torch.Generator().manual_seed(seed))


def empirical_cross_entropy_of_frequencies(targets: torch.Tensor, num_classes: int) -> float:
    """Cross-entropy of the best constant predictor: the entropy of the empirical frequencies."""
    p = torch.bincount(targets.reshape(-1), minlength=num_classes).double() / targets.numel()
    p = p[p > 0]
    return -(p * p.log()).sum().item()


# --- every task ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make", ALL_TASKS, ids=IDS)
@pytest.mark.parametrize("length", [2, 3, 7, 50])
def test_shapes_and_dtypes_at_any_length(make, length):
    task = make(length)
    inputs, targets = sample(task, 5)
    assert inputs.shape == (5, task.seq_len, task.input_size)
    assert inputs.dtype == torch.float32
    if task.kind == "regression":
        assert targets.shape == (5, task.output_size)
    elif isinstance(task, CopyMemory | AnBn):
        assert targets.shape == (5, task.seq_len) and targets.dtype == torch.long
    else:
        assert targets.shape == (5,) and targets.dtype == torch.long
    assert math.isfinite(task.baseline_loss) and task.baseline_loss > 0


@pytest.mark.parametrize("make", ALL_TASKS, ids=IDS)
def test_batches_are_deterministic_given_the_seed(make):
    task = make(6)
    first = list(itertools.islice(task.batches(8, seed=3), 3))
    again = list(itertools.islice(task.batches(8, seed=3), 3))
    other = list(itertools.islice(task.batches(8, seed=4), 3))
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert any(not torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first, other, strict=True))
    assert not torch.equal(first[0][0], first[1][0]), "successive batches must differ"


@pytest.mark.parametrize("make", ALL_TASKS, ids=IDS)
def test_bad_batch_sizes_raise_value_errors(make):
    task = make(4)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            task.sample(bad)
        with pytest.raises(ValueError, match="batch_size"):
            next(task.batches(bad, seed=0))


@pytest.mark.parametrize(
    "make",
    [
        lambda: AddingProblem(1),
        lambda: AddingProblem(0),
        lambda: AddingProblem(3.0),
        lambda: TemporalOrder(1),
        lambda: TemporalOrder(10, num_distractors=0),
        lambda: DistantRecall(0),
        lambda: DistantRecall(5, num_tokens=1),
        lambda: CopyMemory(0),
        lambda: CopyMemory(5, num_symbols=1),
        lambda: CopyMemory(5, copy_length=0),
        lambda: AnBn(0),
        lambda: AnBn(3, min_n=4),
        lambda: AnBn(3, min_n=0),
    ],
)
def test_bad_arguments_raise_value_errors(make):
    with pytest.raises(ValueError, match="must be"):
        make()


# --- the adding problem -------------------------------------------------------------------------
@pytest.mark.parametrize("length", [2, 3, 10, 101])
def test_adding_problem_target_is_the_sum_of_the_two_marked_values(length):
    task = AddingProblem(length)
    inputs, targets = sample(task, 200, seed=length)
    values, markers = inputs[..., 0], inputs[..., 1]
    half = length // 2
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :half].sum(1) == 1).all(), "one marker in the first half"
    assert (markers[:, half:].sum(1) == 1).all(), "one marker in the second half"
    assert ((values >= 0) & (values <= 1)).all()
    expected = torch.stack([v[m.bool()].sum() for v, m in zip(values, markers, strict=True)])
    torch.testing.assert_close(targets[:, 0], expected)


def test_adding_problem_baseline_is_the_mse_of_predicting_the_mean():
    targets = sample(AddingProblem(20), 50_000, seed=1)[1]
    mse_of_mean = ((targets - targets.mean()) ** 2).mean().item()
    assert mse_of_mean == pytest.approx(AddingProblem.baseline_loss, abs=0.004)
    assert targets.mean().item() == pytest.approx(1.0, abs=0.01)


def test_adding_problem_loss_is_mse_and_zero_for_the_true_targets():
    task = AddingProblem(8)
    _, targets = sample(task, 16)
    assert task.loss(targets.clone(), targets).item() == 0.0
    constant = torch.ones_like(targets)
    assert task.loss(constant, targets).item() == pytest.approx(((targets - 1) ** 2).mean().item())
    assert task.metric(constant, targets) == pytest.approx(task.loss(constant, targets).item())


# --- the temporal-order problem -----------------------------------------------------------------
@pytest.mark.parametrize("length", [2, 3, 10, 100, 157])
def test_temporal_order_class_is_the_order_of_the_two_relevant_symbols(length):
    task = TemporalOrder(length)
    inputs, targets = sample(task, 300, seed=length)
    symbols = inputs.argmax(-1)
    assert (inputs.sum(-1) == 1).all(), "one-hot inputs"
    for row in range(len(symbols)):
        positions = torch.nonzero(symbols[row] < 2).flatten().tolist()
        assert len(positions) == 2, "exactly two relevant symbols (A or B)"
        first, second = positions
        assert int(0.1 * length) <= first <= max(int(0.2 * length), int(0.1 * length))
        assert first < second and int(0.5 * length) <= second
        assert second <= max(int(0.6 * length), int(0.5 * length), first + 1)
        a_or_b = symbols[row, positions].tolist()
        assert targets[row].item() == 2 * a_or_b[0] + a_or_b[1]


def test_temporal_order_baseline_is_log_4_and_chance_is_a_quarter():
    task = TemporalOrder(30)
    _, targets = sample(task, 40_000, seed=2)
    assert empirical_cross_entropy_of_frequencies(targets, 4) == pytest.approx(
        task.baseline_loss, abs=0.002
    )
    frequencies = torch.bincount(targets, minlength=4).float() / len(targets)
    assert (frequencies - 0.25).abs().max() < 0.01
    uniform = torch.zeros(len(targets), 4)
    assert task.loss(uniform, targets).item() == pytest.approx(math.log(4), rel=1e-6)


# --- distant recall ---------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 3, 40])
def test_distant_recall_target_is_the_first_token_and_the_last_step_is_the_query(length):
    task = DistantRecall(length, num_tokens=5)
    inputs, targets = sample(task, 100, seed=length)
    assert torch.equal(inputs[:, 0, :5].argmax(-1), targets)
    assert (inputs[:, 0, :5].sum(-1) == 1).all()
    assert (inputs[:, -1, 5] == 1).all(), "query marker at the last step"
    assert (inputs[:, :-1, 5] == 0).all(), "query marker only at the last step"
    if length > 1:
        assert (inputs[:, -1, :5] == 0).all(), "the query step shows no token"
        assert (inputs[:, 1:-1].sum(-1) == 1).all(), "one distractor token per middle step"


def test_distant_recall_baseline_is_log_num_tokens():
    task = DistantRecall(10, num_tokens=6)
    _, targets = sample(task, 40_000, seed=3)
    assert task.baseline_loss == pytest.approx(math.log(6))
    assert task.baseline_metric == pytest.approx(1 / 6)
    assert empirical_cross_entropy_of_frequencies(targets, 6) == pytest.approx(
        task.baseline_loss, abs=0.002
    )
    perfect = F.one_hot(targets, 6).float() * 50
    assert task.metric(perfect, targets) == 1.0


# --- copy memory --------------------------------------------------------------------------------
@pytest.mark.parametrize("delay", [1, 2, 30])
def test_copy_memory_layout(delay):
    task = CopyMemory(delay)
    inputs, targets = sample(task, 50, seed=delay)
    symbols = inputs.argmax(-1)
    assert task.seq_len == delay + 20
    assert (symbols[:, :10] < 8).all()
    assert (symbols[:, 10 : 10 + delay - 1] == 8).all(), "T - 1 blanks"
    assert (symbols[:, 10 + delay - 1] == 9).all(), "then the delimiter"
    assert (symbols[:, -10:] == 8).all(), "then 10 blanks while recalling"
    assert (targets[:, :-10] == 8).all()
    assert torch.equal(targets[:, -10:], symbols[:, :10])


@pytest.mark.parametrize("delay", [1, 10, 100])
def test_copy_memory_baseline_is_the_memoryless_predictors_cross_entropy(delay):
    task = CopyMemory(delay)
    assert task.baseline_loss == pytest.approx(10 * math.log(8) / (delay + 20))
    _, targets = sample(task, 20_000, seed=delay)
    # The best memoryless predictor predicts, at each step, the frequencies of the targets there.
    counts = F.one_hot(targets, task.output_size).double().sum(0)  # (time, classes)
    log_p = (counts / counts.sum(-1, keepdim=True)).clamp_min(1e-300).log()
    empirical = -(counts * log_p).sum().item() / targets.numel()
    assert empirical == pytest.approx(task.baseline_loss, rel=0.003)
    prediction = log_p.float().clamp_min(-1e4).expand(len(targets), -1, -1)
    assert task.loss(prediction, targets).item() == pytest.approx(empirical, rel=1e-4)
    assert task.metric(prediction, targets) == pytest.approx(1 / 8, abs=0.01)


# --- a^n b^n ------------------------------------------------------------------------------------
def test_anbn_sample_at_gives_start_a_n_b_n_and_next_symbol_targets():
    task = AnBn(max_n=3)
    inputs, targets = task.sample_at([1, 3, 5])
    assert inputs.shape == (3, 11, 4) and targets.shape == (3, 11)
    symbols = inputs.argmax(-1)
    assert symbols[0, :3].tolist() == [0, 1, 2]
    assert (inputs[0, 3:] == 0).all(), "padding steps have all-zero inputs"
    assert targets[0].tolist() == [1, 2, 3] + [-100] * 8
    assert symbols[2].tolist() == [0] + [1] * 5 + [2] * 5
    assert targets[2].tolist() == [1] * 5 + [2] * 5 + [3]
    mask = task.deterministic_mask(targets)
    assert mask[1].tolist() == [True, False, False, False, True, True, True] + [False] * 4


def test_anbn_metric_counts_only_deterministic_predictions():
    task = AnBn(max_n=4)
    inputs, targets = task.sample_at([2, 4])
    perfect = F.one_hot(targets.clamp(min=0), 4).float()
    assert task.metric(perfect, targets) == 1.0
    wrong_after_a = perfect.clone()
    wrong_after_a[:, 1] = F.one_hot(torch.tensor(2), 4).float()  # says b after the first a
    assert task.metric(wrong_after_a, targets) == 1.0, "after an a either symbol is allowed"
    wrong_count = perfect.clone()
    wrong_count[1, 8] = F.one_hot(torch.tensor(2), 4).float()  # b instead of the end for n = 4
    assert task.metric(wrong_count, targets) == 0.5
    assert task.loss(perfect * 100, targets).item() < 1e-6


@pytest.mark.parametrize("max_n", [1, 3, 8])
def test_anbn_baseline_is_the_position_only_predictors_cross_entropy(max_n):
    task = AnBn(max_n)
    _, targets = sample(task, 20_000, seed=max_n)
    valid = targets != AnBn.PAD
    counts = F.one_hot(targets.clamp(min=0), 4).double() * valid.unsqueeze(-1)
    counts = counts.sum(0)  # (time, classes)
    log_p = (counts / counts.sum(-1, keepdim=True).clamp_min(1)).clamp_min(1e-300).log()
    empirical = -(counts * log_p).sum().item() / valid.sum().item()
    assert empirical == pytest.approx(task.baseline_loss, abs=0.01)
    # Its sequence accuracy, with exact frequencies: one sequence per n, each n equally likely.
    inputs, every_n = task.sample_at(range(1, max_n + 1))
    counts = (F.one_hot(every_n.clamp(min=0), 4) * (every_n != AnBn.PAD).unsqueeze(-1)).sum(0)
    prediction = counts.float().expand(max_n, -1, -1)  # argmax = the most frequent target
    assert task.metric(prediction, every_n) == pytest.approx(task.baseline_metric)


def test_anbn_sample_n_is_within_range_and_sample_at_generalises_beyond():
    task = AnBn(max_n=5, min_n=2)
    _, targets = sample(task, 2000)
    lengths = (targets != AnBn.PAD).sum(1)
    ns = (lengths - 1) // 2
    assert ns.min() == 2 and ns.max() == 5
    assert set(ns.tolist()) == {2, 3, 4, 5}
    inputs, targets = task.sample_at(torch.tensor([20]))
    assert inputs.shape == (1, 41, 4)
    with pytest.raises(ValueError, match=">= 1"):
        task.sample_at([0, 3])
