"""The number-agreement task (Linzen et al. 2016 in miniature) and the shuffled-targets control:
sentences follow the documented grammar, the target is the subject's number, attractors are
where they are said to be, and the baselines are what the docstrings claim."""

import itertools
import math
import re

import pytest
import torch

from rnnlib.tasks import DistantRecall, NumberAgreement, ShuffledTargets


def sample(task, batch_size, seed=0):
    return task.sample(batch_size, torch.Generator().manual_seed(seed))


def parse(task: NumberAgreement, sentence: str) -> tuple[int, list[int]]:
    """An independent reading of one sentence by the grammar of the docstring:
    ``the N (P the ADJ^a N)^m <verb>``. Returns the subject's number and the numbers of the
    nouns inside the phrases (0 singular, 1 plural), in sentence order."""
    singular = [pair[0] for pair in task.NOUNS[: task.num_nouns]]
    plural = [pair[1] for pair in task.NOUNS[: task.num_nouns]]
    noun = "(" + "|".join(singular + plural) + r")\b"
    adjectives = "".join(f" (?:{'|'.join(task.ADJECTIVES)})" for _ in range(task.adjectives))
    phrase = f" (?:{'|'.join(task.PREPOSITIONS)}) the{adjectives} {noun}"
    match = re.fullmatch(f"the {noun}((?:{phrase})*) <verb>", sentence)
    assert match, f"not a sentence of the grammar: {sentence!r}"
    nouns = [match.group(1)] + re.findall(phrase, match.group(2))
    numbers = [int(n in plural) for n in nouns]
    return numbers[0], numbers[1:]


# --- the grammar --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"num_phrases": 0},
        {"num_phrases": 1, "adjectives": 0},
        {"num_phrases": 3, "adjectives": 2, "num_nouns": 1},
    ],
)
def test_every_sentence_follows_the_grammar_and_the_target_is_the_subjects_number(settings):
    task = NumberAgreement(**settings)
    inputs, targets = sample(task, 200, seed=1)
    assert inputs.shape == (200, task.seq_len, task.input_size)
    assert task.input_size == len(task.vocabulary())
    assert task.seq_len == 2 + task.num_phrases * (3 + task.adjectives) + 1
    assert (inputs.sum(-1) == 1).all(), "one word (or <pad>) per step"
    tokens = inputs.argmax(-1)
    assert (tokens[:, -1] == task.VERB).all(), "the verb slot is the last step"
    for row in tokens:
        words = row.tolist()
        first = next(t for t, w in enumerate(words) if w != task.PAD)
        assert all(w != task.PAD for w in words[first:]), "padding only on the left"
    for sentence, target in zip(task.words(inputs), targets.tolist(), strict=True):
        subject, _ = parse(task, sentence)
        assert target == subject


def test_sample_draws_every_number_of_phrases_and_attractors_at_the_stated_rate():
    task = NumberAgreement(num_phrases=4, attractor_prob=0.3)
    inputs, targets = sample(task, 4000, seed=2)
    phrase_counts, attractors, nouns = [0] * 5, 0, 0
    for sentence, target in zip(task.words(inputs), targets.tolist(), strict=True):
        _, numbers = parse(task, sentence)
        phrase_counts[len(numbers)] += 1
        attractors += sum(n != target for n in numbers)
        nouns += len(numbers)
    assert all(abs(c / 4000 - 1 / 5) < 0.03 for c in phrase_counts), phrase_counts
    assert attractors / nouns == pytest.approx(0.3, abs=0.02)
    assert targets.float().mean().item() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("attractors", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("nearest", [True, False])
def test_sample_with_attractors_places_exactly_that_many_where_asked(attractors, nearest):
    task = NumberAgreement(num_phrases=4)
    inputs, targets = task.sample_with_attractors(
        50, attractors, nearest=nearest, generator=torch.Generator().manual_seed(attractors)
    )
    for sentence, target in zip(task.words(inputs), targets.tolist(), strict=True):
        subject, numbers = parse(task, sentence)
        assert subject == target and len(numbers) == 4
        is_attractor = [n != subject for n in numbers]
        expected = [False] * (4 - attractors) + [True] * attractors
        assert is_attractor == (expected if nearest else expected[::-1])


def test_nearest_noun_number_is_the_last_noun_before_the_verb():
    task = NumberAgreement(num_phrases=3, attractor_prob=0.5)
    inputs, _ = sample(task, 300, seed=4)
    nearest = task.nearest_noun_number(inputs).tolist()
    for sentence, number in zip(task.words(inputs), nearest, strict=True):
        subject, numbers = parse(task, sentence)
        assert number == (numbers[-1] if numbers else subject)


def test_baselines_chance_and_the_nearest_noun_heuristic():
    task = NumberAgreement(num_phrases=4, attractor_prob=0.2)
    inputs, targets = sample(task, 20_000, seed=5)
    assert task.baseline_loss == pytest.approx(math.log(2))
    assert task.baseline_metric == 0.5
    assert task.loss(torch.zeros(len(targets), 2), targets).item() == pytest.approx(math.log(2))
    # sequential recency is right unless the nearest noun is an attractor: 1 - p * 4/5
    heuristic = task.nearest_noun_number(inputs)
    accuracy = (heuristic == targets).float().mean().item()
    assert accuracy == pytest.approx(1 - 0.2 * 4 / 5, abs=0.01)


def test_agreement_batches_are_deterministic_given_the_seed():
    task = NumberAgreement()
    first = list(itertools.islice(task.batches(8, seed=3), 2))
    again = list(itertools.islice(task.batches(8, seed=3), 2))
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(first[0][0], first[1][0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: NumberAgreement(num_phrases=-1),
        lambda: NumberAgreement(attractor_prob=1.5),
        lambda: NumberAgreement(attractor_prob="often"),
        lambda: NumberAgreement(adjectives=-1),
        lambda: NumberAgreement(num_nouns=0),
        lambda: NumberAgreement(num_nouns=99),
        lambda: NumberAgreement(num_phrases=2).sample_with_attractors(4, 3),
        lambda: NumberAgreement().sample_with_attractors(4, 1.0),
        lambda: NumberAgreement().sample(0),
    ],
)
def test_agreement_bad_settings_raise_value_error(make):
    with pytest.raises(ValueError):
        make()


# --- the shuffled-targets control ---------------------------------------------------------------
def test_shuffled_targets_keeps_the_inputs_and_rolls_the_targets():
    task = DistantRecall(12, num_tokens=8)
    control = ShuffledTargets(task)
    x, y = sample(task, 64, seed=6)
    x_control, y_control = sample(control, 64, seed=6)
    assert torch.equal(x, x_control), "the same inputs, seed for seed"
    assert torch.equal(y_control, torch.cat([y[1:], y[:1]]))
    assert (control.input_size, control.output_size, control.seq_len, control.kind) == (
        task.input_size,
        task.output_size,
        task.seq_len,
        task.kind,
    )
    assert control.baseline_loss == task.baseline_loss


def test_shuffled_targets_remove_the_dependency():
    # the rule "answer = first token" is always right on the task and at chance on the control
    task = DistantRecall(5, num_tokens=8)
    x, y = sample(task, 20_000, seed=7)
    _, y_control = sample(ShuffledTargets(task), 20_000, seed=7)
    first_token = x[:, 0, :8].argmax(-1)
    assert (first_token == y).float().mean().item() == 1.0
    assert (first_token == y_control).float().mean().item() == pytest.approx(1 / 8, abs=0.01)


def test_shuffled_targets_refuse_a_batch_of_one_and_a_non_task():
    with pytest.raises(ValueError):
        ShuffledTargets(DistantRecall(5)).sample(1)
    with pytest.raises(ValueError):
        ShuffledTargets("not a task")
