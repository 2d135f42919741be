"""MovieSentiment: the grammar its docstring states, balanced labels, determinism, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnlib.tasks import MovieSentiment

POSITIVE = set(MovieSentiment.SLOTS["POSITIVE"])
NEGATIVE = set(MovieSentiment.SLOTS["NEGATIVE"])
PARTICIPLES = set(MovieSentiment.SLOTS["PARTICIPLE"])


def sentences(n=4000, seed=0):
    task = MovieSentiment()
    found = task.sample_sentences(n, torch.Generator().manual_seed(seed))
    return task, found, [line.split() for line in task.decode(found["tokens"])]


def sentiment_by_the_rules(words: list[str]) -> int:
    """The docstring's rules, written again from the words: +1 positive, -1 negative."""
    adverb, word = words[4], words[5]
    if word in PARTICIPLES:
        polarity = -1 if adverb == "terribly" else +1
    else:
        polarity = +1 if word in POSITIVE else -1
    return -polarity if words[3] == "not" else polarity


def test_every_sentence_follows_the_slots():
    task, _, lines = sentences(2000)
    slots = MovieSentiment.SLOTS
    order = ["DET", "NOUN", "VERB", "LEFT", "ADVERB"]
    for words in lines:
        assert len(words) == task.seq_len == 7
        for position, slot in enumerate(order):
            assert words[position] in slots[slot], (position, words)
        assert words[5] in POSITIVE | NEGATIVE | PARTICIPLES and words[6] in slots["END"]
        # well is followed only by participles, very and quite only by adjectives
        assert words[4] != "well" or words[5] in PARTICIPLES, words
        assert words[4] not in ("very", "quite") or words[5] not in PARTICIPLES, words


def test_labels_follow_the_documented_rules():
    _, found, lines = sentences()
    expected = torch.tensor([sentiment_by_the_rules(words) > 0 for words in lines]).long()
    assert torch.equal(found["label"], expected)


def test_terribly_takes_its_polarity_from_the_word_to_its_right():
    _, found, lines = sentences()
    for words, terribly, polarity in zip(lines, found["terribly"], found["polarity"], strict=True):
        assert bool(terribly) == (words[4] == "terribly")
        if words[4] == "terribly":
            right = words[5]
            assert polarity == (+1 if right in POSITIVE else -1), words


def test_the_examples_of_the_docstring_get_their_labels():
    examples = {
        "the movie was really terribly exciting !": +1,
        "this film is not terribly exciting .": -1,
        "the cast was so terribly acted !": -1,
    }
    for sentence, sentiment in examples.items():
        assert sentiment_by_the_rules(sentence.split()) == sentiment


def test_labels_and_the_terribly_contribution_are_balanced():
    _, found, _ = sentences(20000)
    assert abs(found["label"].float().mean().item() - 0.5) < 0.02
    terribly = found["terribly"]
    assert abs(terribly.float().mean().item() - 0.5) < 0.02
    assert abs((found["polarity"][terribly] > 0).float().mean().item() - 0.5) < 0.02


def test_what_follows_terribly_is_independent_of_the_words_before_it():
    """The forward state at 'terribly' cannot know its polarity: nothing to its left predicts
    it (each left word's rate of positive polarity is 1/2 within sampling error)."""
    _, found, lines = sentences(20000)
    for position in range(4):
        for word in {words[position] for words in lines}:
            rows = [
                k
                for k, words in enumerate(lines)
                if words[4] == "terribly" and words[position] == word
            ]
            rate = (found["polarity"][rows] > 0).float().mean().item()
            assert abs(rate - 0.5) < 5 / math.sqrt(len(rows)), (position, word, rate)


def test_sentiment_batches_have_the_task_interface():
    task = MovieSentiment()
    inputs, targets = task.sample(5, torch.Generator().manual_seed(1))
    assert inputs.shape == (5, 7, task.input_size) and inputs.dtype == torch.float32
    assert torch.equal(inputs.sum(-1), torch.ones(5, 7))
    assert targets.shape == (5,) and targets.dtype == torch.long
    assert task.baseline_loss == pytest.approx(math.log(2)) and task.baseline_metric == 0.5


def test_next_token_targets_are_the_inputs_shifted_by_one():
    task = MovieSentiment("next_token")
    inputs, targets = task.sample(50, torch.Generator().manual_seed(2))
    assert inputs.shape == (50, 6, task.input_size) and targets.shape == (50, 6)
    assert torch.equal(inputs[:, 1:].argmax(-1), targets[:, :-1])
    assert task.output_size == task.input_size == len(task.vocabulary())


def test_next_token_baseline_is_the_entropy_given_the_position():
    """Recomputed on another sample: the entropy of each position's word, averaged."""
    task = MovieSentiment("next_token")
    _, targets = task.sample(100_000, torch.Generator().manual_seed(3))
    entropy = 0.0
    for column in targets.T:
        p = torch.bincount(column, minlength=task.input_size).double() / len(column)
        entropy -= (p[p > 0] * p[p > 0].log()).sum().item()
    assert task.baseline_loss == pytest.approx(entropy / targets.shape[1], abs=0.01)
    assert 0 < task.baseline_metric < 1


def test_batches_are_deterministic_given_the_seed():
    task = MovieSentiment()
    first = list(itertools.islice(task.batches(8, seed=3), 2))
    again = list(itertools.islice(task.batches(8, seed=3), 2))
    for (x1, y1), (x2, y2) in zip(first, again, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(first[0][0], first[1][0])


def test_bad_arguments_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="target must be one of"):
        MovieSentiment("sentiment_and_more")
    with pytest.raises(ValueError, match="batch_size"):
        MovieSentiment().sample(0)
