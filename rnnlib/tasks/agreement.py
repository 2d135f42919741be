r"""Subject-verb number agreement across attractor nouns: "the writer of the old books near the
red tables ___" must be *is* (chapter 1: a dependency that syntax, not distance, decides).

Shapes: B batch, T time steps (``seq_len``), V words of the vocabulary (``input_size``), P
words of one prepositional phrase (``phrase_len``).

Not here: the word tasks' shared interface ``vocabulary``/``one_hot``/``decode``
(``base.WordTask``), sentiment (``sentiment``), real English.
"""

from __future__ import annotations

import math
import numbers

import torch

from rnnlib.checks import check_int
from rnnlib.tasks.base import Batch, WordTask, uniform_int

__all__ = ["NumberAgreement"]


class NumberAgreement(WordTask):
    r"""Subject-verb number agreement across attractor nouns (after Linzen, Dupoux & Goldberg
    2016): "the writer of the old books near the red tables ___" must be *is*, not *are*.

    **Grammar** (every sentence ends at the verb slot; the model predicts the verb's number)::

        S   -> NP_subj PP^m <verb>        m = 0 .. num_phrases
        NP_subj -> the N                  N: a noun, singular or plural
        PP  -> P the ADJ^a N              a = adjectives (fixed)

    The subject's number is singular or plural with probability 1/2. Each noun inside a
    prepositional phrase has the *opposite* number from the subject (an **attractor**) with
    probability ``attractor_prob``, else the subject's number; in :meth:`sample`, ``m`` is
    uniform in ``0..num_phrases``. Sentences are padded on the left with ``<pad>`` to
    ``seq_len = 2 + num_phrases (3 + adjectives) + 1`` steps, so the verb slot is always the
    last step, ``1 + num_phrases (3 + adjectives)`` steps after the subject noun at most.

    **Vocabulary** (one-hot, ``input_size`` channels, in this order): ``<pad>``, ``the``,
    ``<verb>``, the prepositions ``PREPOSITIONS``, the adjectives ``ADJECTIVES``, then
    for each of the first ``num_nouns`` lemmas of ``NOUNS`` its singular and its plural
    form. :meth:`vocabulary` lists them; :meth:`~rnnlib.tasks.WordTask.decode` (or its alias
    :meth:`words`) turns inputs back into text, without the padding.

    The target is the subject's number: 0 = singular (*is*), 1 = plural (*are*). Predictions
    ``(batch, 2)`` from the last step, targets ``(batch,)``.

    *Baseline*: both numbers are equally likely, so chance accuracy is 1/2 and the best
    input-independent cross-entropy is :math:`\log 2`. Predicting the number of the *nearest*
    noun (sequential recency) is right exactly when that noun is not an attractor, with
    probability ``1 - attractor_prob`` on sentences with at least one phrase; only the
    subject's number (syntactic recency) is always right.

    :meth:`sample_with_attractors` draws test sentences with exactly ``num_phrases``
    phrases of which a given number are attractors, placed nearest to the verb or farthest
    from it.

    Not here: real English, verbs inside relative clauses, nouns with the same form in both
    numbers.

    >>> task = NumberAgreement(num_phrases=2)
    >>> inputs, targets = task.sample_with_attractors(
    ...     1, attractors=1, generator=torch.Generator().manual_seed(0)
    ... )
    >>> tuple(inputs.shape), task.decode(inputs), targets.tolist()
    ((1, 11, 23), ['the key near the old book under the new books <verb>'], [0])
    >>> task.nearest_noun_number(inputs).tolist()  # the attractor's number: wrong
    [1]
    """

    kind = "classification"
    output_size = 2
    baseline_loss = math.log(2)
    baseline_metric = 0.5
    PAD, THE, VERB = 0, 1, 2
    PREPOSITIONS = ("of", "near", "behind", "under")
    ADJECTIVES = ("old", "red", "small", "new")
    NOUNS = (
        ("writer", "writers"),
        ("book", "books"),
        ("table", "tables"),
        ("key", "keys"),
        ("cabinet", "cabinets"),
        ("author", "authors"),
    )

    def __init__(
        self,
        num_phrases: int = 4,
        attractor_prob: float = 0.2,
        adjectives: int = 1,
        num_nouns: int = 6,
    ):
        self.num_phrases = check_int(num_phrases, "num_phrases", 0)
        self.adjectives = check_int(adjectives, "adjectives", 0)
        self.num_nouns = check_int(num_nouns, "num_nouns")
        if num_nouns > len(self.NOUNS):
            raise ValueError(f"num_nouns must be <= {len(self.NOUNS)}, got {num_nouns}")
        number = isinstance(attractor_prob, numbers.Real) and not isinstance(attractor_prob, bool)
        if not number or not 0.0 <= attractor_prob <= 1.0:
            raise ValueError(f"attractor_prob must be a number in [0, 1], got {attractor_prob!r}")
        self.attractor_prob = float(attractor_prob)
        self.phrase_len = 3 + adjectives  # P the ADJ^a N
        self.seq_len = 2 + num_phrases * self.phrase_len + 1
        self._first_preposition = 3
        self._first_adjective = 3 + len(self.PREPOSITIONS)
        self._first_noun = self._first_adjective + len(self.ADJECTIVES)
        self.input_size = self._first_noun + 2 * num_nouns

    def vocabulary(self) -> list[str]:
        """The word of each input channel, in channel order.

        >>> vocabulary = NumberAgreement(num_nouns=1).vocabulary()
        >>> len(vocabulary), vocabulary[:4], vocabulary[-3:]
        (13, ['<pad>', 'the', '<verb>', 'of'], ['new', 'writer', 'writers'])
        """
        nouns = [form for pair in self.NOUNS[: self.num_nouns] for form in pair]
        return ["<pad>", "the", "<verb>", *self.PREPOSITIONS, *self.ADJECTIVES, *nouns]

    def words(self, inputs: torch.Tensor) -> list[str]:
        """The sentences of a batch as text, without the padding: the same as
        :meth:`~rnnlib.tasks.WordTask.decode`."""
        return self.decode(inputs)

    def _nouns(self, numbers: torch.Tensor, generator) -> torch.Tensor:
        """Token ids of random lemmas with the given numbers (0 singular, 1 plural)."""
        lemmas = torch.randint(0, self.num_nouns, numbers.shape, generator=generator)
        return self._first_noun + 2 * lemmas + numbers

    def _phrase(self, numbers: torch.Tensor, generator) -> list[torch.Tensor]:
        """The token ids ``(B,)`` of each word of one phrase "P the ADJ^a N", its noun of the
        given numbers ``(B,)``."""
        B = numbers.shape[0]
        preposition = torch.randint(0, len(self.PREPOSITIONS), (B,), generator=generator)
        adjectives = [
            self._first_adjective
            + torch.randint(0, len(self.ADJECTIVES), (B,), generator=generator)
            for _ in range(self.adjectives)
        ]
        return [
            self._first_preposition + preposition,
            torch.full((B,), self.THE),
            *adjectives,
            self._nouns(numbers, generator),
        ]

    def _sentences(
        self, subject: torch.Tensor, phrases: torch.Tensor, attractor: torch.Tensor, generator
    ) -> Batch:
        """One-hot sentences from the subject's number ``(batch,)``, the number of phrases
        ``(batch,)`` and which phrases hold an attractor ``(batch, num_phrases)`` (bool)."""
        B, T, P = subject.shape[0], self.seq_len, self.phrase_len
        rows = torch.arange(B)
        tokens = torch.full((B, T), self.PAD, dtype=torch.long)
        tokens[:, -1] = self.VERB
        start = T - 1 - phrases * P  # first step of the first phrase
        tokens[rows, start - 2] = self.THE
        tokens[rows, start - 1] = self._nouns(subject, generator)
        for j in range(self.num_phrases):
            number = torch.where(attractor[:, j], 1 - subject, subject)
            present = phrases > j
            for offset, word in enumerate(self._phrase(number, generator)):
                position = (start + j * P + offset).clamp(max=T - 1)
                tokens[rows[present], position[present]] = word[present]
        return self.one_hot(tokens), subject.clone()

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Training sentences: ``m`` uniform in ``0..num_phrases``, each phrase's noun an
        attractor with probability ``attractor_prob``. Inputs ``(B, T, V)``, targets ``(B,)``."""
        self._check_batch_size(batch_size)
        subject = torch.randint(0, 2, (batch_size,), generator=generator)
        phrases = uniform_int(0, self.num_phrases, batch_size, generator)
        u = torch.rand(batch_size, max(self.num_phrases, 1), generator=generator)
        attractor = u[:, : self.num_phrases] < self.attractor_prob
        return self._sentences(subject, phrases, attractor, generator)

    def sample_with_attractors(
        self,
        batch_size: int,
        attractors: int,
        nearest: bool = True,
        generator: torch.Generator | None = None,
    ) -> Batch:
        """Sentences with all ``num_phrases`` phrases, exactly ``attractors`` of whose nouns
        have the opposite number from the subject: the last ``attractors`` phrases (nearest to
        the verb) when ``nearest``, else the first ones (right after the subject)."""
        self._check_batch_size(batch_size)
        check_int(attractors, "attractors", 0)
        if attractors > self.num_phrases:
            raise ValueError(
                f"attractors must be between 0 and num_phrases={self.num_phrases}, got {attractors}"
            )
        subject = torch.randint(0, 2, (batch_size,), generator=generator)
        phrases = torch.full((batch_size,), self.num_phrases)
        j = torch.arange(self.num_phrases)
        # the last `attractors` phrases (nearest the verb), or the first ones
        placed = (j >= self.num_phrases - attractors) if nearest else (j < attractors)
        attractor = placed.expand(batch_size, self.num_phrases)  # (B, num_phrases)
        return self._sentences(subject, phrases, attractor, generator)

    def nearest_noun_number(self, inputs: torch.Tensor) -> torch.Tensor:
        """The number (0 singular, 1 plural) of the noun nearest to the verb slot in each
        sentence of one-hot ``inputs`` ``(batch, time, input_size)``: the last phrase's noun,
        or the subject in a sentence without phrases. Returns ``(batch,)``."""
        tokens = inputs.argmax(-1)  # (B, T)
        is_noun = tokens >= self._first_noun
        steps = torch.arange(tokens.shape[1]).expand_as(tokens)  # (B, T)
        last = torch.where(is_noun, steps, -1).max(dim=1).values  # (B,)
        if (last < 0).any():
            raise ValueError("every sentence must contain a noun")
        nearest = tokens[torch.arange(tokens.shape[0]), last]
        return (nearest - self._first_noun) % 2

    def __repr__(self) -> str:
        return (
            f"NumberAgreement(num_phrases={self.num_phrases}, "
            f"attractor_prob={self.attractor_prob}, adjectives={self.adjectives}, "
            f"num_nouns={self.num_nouns})"
        )
