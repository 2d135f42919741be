"""The word tasks' one interface: vocabulary() names every input channel, decode() reads inputs
back as text (the same for one-hot inputs and token ids), and text maps back to the inputs."""

from __future__ import annotations

import pytest
import torch

from rnnlib.tasks import MovieSentiment, NumberAgreement, WordTask

WORD_TASKS = [
    MovieSentiment,
    lambda: MovieSentiment("next_token"),
    NumberAgreement,
    lambda: NumberAgreement(num_phrases=2, attractor_prob=0.5, adjectives=0, num_nouns=3),
    lambda: NumberAgreement(num_phrases=0),
]
IDS = ["sentiment", "next_token", "agreement", "agreement_small", "agreement_no_phrase"]


def sample(task, batch_size=64, seed=0):
    return task.sample(batch_size, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("make", WORD_TASKS, ids=IDS)
def test_vocabulary_is_a_method_naming_each_input_channel_once(make):
    task = make()
    assert isinstance(task, WordTask)
    vocabulary = task.vocabulary()
    assert isinstance(vocabulary, list) and all(isinstance(word, str) for word in vocabulary)
    assert len(vocabulary) == len(set(vocabulary)) == task.input_size
    vocabulary.append("mutated")
    assert len(task.vocabulary()) == task.input_size, "a fresh list on every call"


@pytest.mark.parametrize("make", WORD_TASKS, ids=IDS)
def test_decode_reads_the_word_of_each_step_and_leaves_out_the_padding(make):
    task = make()
    inputs, _ = sample(task)
    vocabulary = task.vocabulary()
    by_hand = [
        " ".join(vocabulary[k] for k in row if vocabulary[k] != "<pad>")
        for row in inputs.argmax(-1).tolist()
    ]
    assert task.decode(inputs) == by_hand
    assert all("<pad>" not in sentence.split() for sentence in task.decode(inputs))


@pytest.mark.parametrize("make", WORD_TASKS, ids=IDS)
def test_decode_of_one_hot_inputs_equals_decode_of_their_token_ids(make):
    task = make()
    inputs, _ = sample(task, seed=1)
    tokens = inputs.argmax(-1)
    assert torch.equal(task.one_hot(tokens), inputs)
    assert task.decode(inputs) == task.decode(tokens)


@pytest.mark.parametrize("make", WORD_TASKS, ids=IDS)
def test_decoded_text_maps_back_to_the_same_inputs(make):
    # round trip: text -> token ids (through vocabulary()) -> left padding -> one-hot -> inputs
    task = make()
    inputs, _ = sample(task, seed=2)
    vocabulary = task.vocabulary()
    steps = inputs.shape[1]
    rows = []
    for sentence in task.decode(inputs):
        ids = [vocabulary.index(word) for word in sentence.split()]
        rows.append([task.PAD] * (steps - len(ids)) + ids)  # MovieSentiment: no padding
    assert torch.equal(task.one_hot(torch.tensor(rows)), inputs)


def test_sentiment_sentences_have_every_word_and_no_padding():
    task = MovieSentiment()
    found = task.sample_sentences(200, torch.Generator().manual_seed(3))
    assert "<pad>" not in task.vocabulary() and task.PAD is None
    assert all(len(sentence.split()) == 7 for sentence in task.decode(found["tokens"]))
    next_token = MovieSentiment("next_token")
    inputs, _ = sample(next_token, seed=3)
    assert all(len(sentence.split()) == 6 for sentence in next_token.decode(inputs))


def test_agreement_words_is_decode_and_sentences_end_at_the_verb():
    task = NumberAgreement(num_phrases=3)
    inputs, _ = sample(task, 200, seed=4)
    sentences = task.decode(inputs)
    assert task.words(inputs) == sentences
    assert all(sentence.startswith("the ") for sentence in sentences)
    assert all(sentence.endswith(" <verb>") for sentence in sentences)
    assert {len(sentence.split()) for sentence in sentences} == {3, 7, 11, 15}, (
        "the subject, the verb and 0 to 3 phrases of 4 words"
    )
