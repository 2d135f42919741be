r"""The lecture's sentence "the movie was terribly exciting !": sentiment of synthetic sentences
in which a word's meaning depends on the word to its right (chapter 8, bidirectional RNNs).

Shapes: B batch, T time steps (7 words, 6 for ``target="next_token"``), V words of the
vocabulary.

Not here: the word tasks' shared interface ``vocabulary``/``one_hot``/``decode``
(``base.WordTask``), number agreement (``agreement``), real film reviews.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from rnnlib.checks import check_choice
from rnnlib.tasks.base import Batch, WordTask

__all__ = ["MovieSentiment"]


def _uniform(n: int, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(B,)`` integers uniform in ``0..n-1``."""
    return torch.randint(0, n, (batch_size,), generator=generator)


def _bernoulli(p: float, batch_size: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(B,)`` bools, each true with probability ``p``."""
    return torch.rand(batch_size, generator=generator) < p


class MovieSentiment(WordTask):
    r"""The lecture's example, "the movie was terribly exciting !": sentiment of short synthetic
    sentences in which a word's meaning depends on the word to its *right*.

    Every sentence has ``seq_len = 7`` tokens, one word from each slot of the grammar, drawn
    independently (uniformly within a slot unless said otherwise) from a ``torch.Generator``:

    ====  =========  =====================================================================
    slot  name       words
    ====  =========  =====================================================================
    0     DET        the, this
    1     NOUN       movie, film, plot, cast
    2     VERB       was, is
    3     LEFT       *not* (probability 1/2), or one of so, also, really
    4     ADVERB     *terribly* (probability 1/2), or very, quite, well
    5     WORD       an adjective or a participle, chosen with the adverb (below)
    6     END        ``!``, ``.``
    ====  =========  =====================================================================

    Adjectives carry a polarity: *exciting*, *funny*, *good* are positive (+1); *boring*,
    *dull*, *bad* are negative (-1). Participles (*made*, *acted*, *written*) carry none. The
    phrase of slots 4-5 and its polarity :math:`p`:

    * *terribly* + adjective: an intensifier, :math:`p` = the adjective's polarity
      ("terribly exciting" is positive, "terribly dull" negative); the next word is a positive
      adjective with probability 1/2, a negative one with 1/4, a participle with 1/4;
    * *terribly* + participle: :math:`p = -1` ("terribly acted" means badly acted);
    * *very* or *quite* + adjective (positive or negative, 1/2 each): the adjective's polarity;
    * *well* + participle: :math:`p = +1`.

    So the contribution of *terribly* to the sentence is :math:`p`, +1 or -1 with probability
    1/2 each, and it is decided by the word to its right. The sentence's sentiment is
    :math:`s = -p` when slot 3 is the negation *not* and :math:`s = p` otherwise (a word to the
    left); the label is 1 for :math:`s = +1` (positive) and 0 for negative, each with
    probability 1/2. Examples: "the movie was really terribly exciting !" (positive), "this
    film is not terribly exciting ." (negative), "the cast was so terribly acted !" (negative).

    *Baseline*: the labels are balanced, so chance accuracy is 1/2 and the best
    input-independent cross-entropy is :math:`\log 2`.

    ``target="sentiment"`` (default): inputs ``(batch, 7, vocabulary size)`` one-hot tokens,
    targets ``(batch,)`` labels, predictions ``(batch, 2)``. ``target="next_token"``: language
    modelling on the same sentences: inputs are tokens 0..5, targets ``(batch, 6)`` tokens
    1..6 (the next token at every step), predictions ``(batch, 6, vocabulary size)``; its
    ``baseline_loss`` is the entropy of the next token given only its position, and
    ``baseline_metric`` the accuracy of guessing the most frequent word of each position.
    :meth:`sample_sentences` gives the token ids with the labels and the contributions;
    ``vocabulary()`` lists the words of the input channels (the slots' words in order),
    ``index`` maps a word to its channel and ``decode`` turns inputs or token ids into text.

    >>> task = MovieSentiment()
    >>> inputs, targets = task.sample(2, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), tuple(targets.shape)
    ((2, 7, 27), (2,))
    >>> task.decode(inputs), targets.tolist()
    (['the plot was not terribly good !', 'this movie was so quite bad .'], [0, 0])
    """

    kind = "classification"
    SLOTS = {
        "DET": ["the", "this"],
        "NOUN": ["movie", "film", "plot", "cast"],
        "VERB": ["was", "is"],
        "LEFT": ["not", "so", "also", "really"],
        "ADVERB": ["terribly", "very", "quite", "well"],
        "POSITIVE": ["exciting", "funny", "good"],
        "NEGATIVE": ["boring", "dull", "bad"],
        "PARTICIPLE": ["made", "acted", "written"],
        "END": ["!", "."],
    }
    #: the position of the adverb (*terribly*) in every sentence
    ADVERB_POSITION = 4
    TARGETS = ("sentiment", "next_token")

    def __init__(self, target: Literal["sentiment", "next_token"] = "sentiment"):
        self.target = check_choice(target, "target", self.TARGETS)
        self.index = {word: k for k, word in enumerate(self.vocabulary())}
        self.input_size = len(self.index)
        if target == "sentiment":
            self.seq_len, self.output_size = 7, 2
            self.baseline_loss, self.baseline_metric = math.log(2), 0.5
        else:
            self.seq_len, self.output_size = 6, self.input_size
            self.baseline_loss, self.baseline_metric = self._position_only_baseline()

    def vocabulary(self) -> list[str]:
        """The word of each input channel: the words of ``SLOTS``, slot by slot.

        >>> MovieSentiment().vocabulary()[:6]
        ['the', 'this', 'movie', 'film', 'plot', 'cast']
        """
        return [word for words in self.SLOTS.values() for word in words]

    def _ids(self, slot: str, choice: torch.Tensor) -> torch.Tensor:
        """Token ids of ``SLOTS[slot][choice]``, element-wise."""
        return torch.tensor([self.index[w] for w in self.SLOTS[slot]])[choice]

    def sample_sentences(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``tokens`` ``(batch, 7)`` ids; ``label`` ``(batch,)`` (1 positive, 0 negative);
        ``polarity`` ``(batch,)`` the phrase's :math:`p` (+1/-1); ``terribly`` ``(batch,)``
        bool, whether slot 4 is *terribly* (its contribution is then ``polarity``).

        >>> task = MovieSentiment()
        >>> found = task.sample_sentences(2, torch.Generator().manual_seed(1))
        >>> task.decode(found["tokens"])
        ['the film was so terribly bad !', 'this movie is not well made !']
        >>> found["polarity"].tolist(), found["terribly"].tolist(), found["label"].tolist()
        ([-1, 1], [True, False], [0, 0])
        """
        B = self._check_batch_size(batch_size)
        negated = _bernoulli(0.5, B, generator)
        left = torch.where(negated, 0, 1 + _uniform(3, B, generator))  # not; so, also, really
        terribly, adverb, word, polarity = self._adverb_phrase(B, generator)
        sentiment = torch.where(negated, -polarity, polarity)
        return {
            "tokens": self._tokens(left, adverb, word, generator),
            "label": (sentiment > 0).long(),
            "polarity": polarity,
            "terribly": terribly,
        }

    def _adverb_phrase(self, batch_size: int, generator: torch.Generator | None):
        """Slots 4-5, the adverb and the word after it, and the phrase's polarity p (all
        ``(B,)``), drawn as the class docstring says; ``terribly`` is whether slot 4 is it."""
        B = batch_size
        terribly = _bernoulli(0.5, B, generator)
        adverb = torch.where(terribly, 0, 1 + _uniform(3, B, generator))  # very, quite, well
        # what follows: 0 positive adjective, 1 negative adjective, 2 participle
        u = torch.rand(B, generator=generator)
        after_terribly = torch.where(u < 0.5, 0, torch.where(u < 0.75, 1, 2))
        after_very = (u >= 0.5).long()
        kind = torch.where(terribly, after_terribly, torch.where(adverb == 3, 2, after_very))
        which = _uniform(3, B, generator)
        word = torch.where(
            kind == 0,
            self._ids("POSITIVE", which),
            torch.where(kind == 1, self._ids("NEGATIVE", which), self._ids("PARTICIPLE", which)),
        )
        # the phrase's polarity p: adjectives their own; terribly + participle -1; well + it +1
        polarity = torch.where(kind == 0, 1, -1)
        polarity = torch.where((kind == 2) & ~terribly, 1, polarity)
        return terribly, adverb, word, polarity

    def _tokens(
        self,
        left: torch.Tensor,
        adverb: torch.Tensor,
        word: torch.Tensor,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """The sentences' token ids ``(B, 7)``, drawing the independent slots DET, NOUN, VERB
        and END (in that order) around the given LEFT, ADVERB and WORD."""
        B = word.shape[0]
        slots = [
            self._ids("DET", _uniform(2, B, generator)),
            self._ids("NOUN", _uniform(4, B, generator)),
            self._ids("VERB", _uniform(2, B, generator)),
            self._ids("LEFT", left),
            self._ids("ADVERB", adverb),
            word,
            self._ids("END", _uniform(2, B, generator)),
        ]
        return torch.stack(slots, dim=1)  # (B, 7)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """``"sentiment"``: inputs ``(B, 7, V)`` and labels ``(B,)``; ``"next_token"``: inputs
        ``(B, 6, V)`` (tokens 0..5) and targets ``(B, 6)`` (tokens 1..6)."""
        sentences = self.sample_sentences(batch_size, generator)
        tokens = sentences["tokens"]
        if self.target == "sentiment":
            return self.one_hot(tokens), sentences["label"]
        return self.one_hot(tokens[:, :-1]), tokens[:, 1:].clone()

    def _position_only_baseline(self, samples: int = 200_000) -> tuple[float, float]:
        """Entropy of the next token given its position, and the accuracy of the most frequent
        word per position, estimated on a fixed seeded sample (to about 0.005)."""
        tokens = self.sample_sentences(samples, torch.Generator().manual_seed(0))["tokens"][:, 1:]
        entropy, correct = 0.0, 0.0
        for column in tokens.T:  # (samples,) per position
            p = torch.bincount(column, minlength=self.input_size).double() / samples
            entropy -= (p[p > 0] * p[p > 0].log()).sum().item()
            correct += p.max().item()
        return entropy / tokens.shape[1], correct / tokens.shape[1]

    def __repr__(self) -> str:
        return f"MovieSentiment(target={self.target!r})"
