r"""Synthetic sequence tasks with long-range dependencies, each with a documented chance baseline.

Every task has the same small interface:

* attributes ``input_size``, ``output_size``, ``seq_len``, ``kind`` (``"regression"`` or
  ``"classification"``), ``baseline_loss`` (the loss of the best predictor that ignores the
  inputs, documented in the class) and ``baseline_metric`` (that predictor's metric: chance
  accuracy, or the MSE of predicting the mean);
* ``sample(batch_size, generator=None) -> (inputs, targets)``, inputs of shape
  ``(batch, time, input_size)`` (float32);
* ``loss(prediction, targets)`` (a scalar tensor, what training minimises) and
  ``metric(prediction, targets)`` (a float: accuracy for classification, MSE for regression);
* ``batches(batch_size, seed)``: an endless iterator of batches, the same for the same seed.

Sequence-to-one tasks (adding, temporal order, distant recall) are read out at the last step:
predictions have shape ``(batch, output_size)``. Sequence-to-sequence tasks (copy memory,
:math:`a^n b^n`) have a target at every step: predictions ``(batch, time, output_size)`` from
``SequenceModel(cell, output_size, readout="every")``; which steps count is decided inside the
task's ``loss`` and ``metric``.

All randomness comes from the ``torch.Generator`` passed to ``sample`` (CPU), so a task is
deterministic given a seed whatever the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "Task",
    "AddingProblem",
    "TemporalOrder",
    "DistantRecall",
    "CopyMemory",
    "AnBn",
    "MovieSentiment",
    "NumberAgreement",
    "ShuffledTargets",
    "MagnitudeSum",
]

Batch = tuple[torch.Tensor, torch.Tensor]


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _uniform_int(low: torch.Tensor | int, high: torch.Tensor | int, size: int, generator):
    """Integers uniform in ``[low, high]`` (inclusive; ``low``/``high`` may be per-sample)."""
    low = torch.as_tensor(low)
    high = torch.as_tensor(high)
    u = torch.rand(size, generator=generator)
    return (low + (u * (high - low + 1)).floor().long()).clamp(max=high)


class Task:
    """Base class: batching, seeding and the classification/regression loss and metric."""

    input_size: int
    output_size: int
    seq_len: int
    kind: str
    baseline_loss: float
    baseline_metric: float

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        raise NotImplementedError

    def batches(self, batch_size: int, seed: int = 0) -> Iterator[Batch]:
        """An endless iterator of batches; the same ``seed`` gives the same batches."""
        _check_int("batch_size", batch_size, 1)
        generator = torch.Generator().manual_seed(seed)
        while True:
            yield self.sample(batch_size, generator)

    def _check_batch_size(self, batch_size: int) -> int:
        return _check_int("batch_size", batch_size, 1)

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.kind == "regression":
            return F.mse_loss(prediction.reshape(targets.shape), targets)
        return F.cross_entropy(prediction.reshape(-1, self.output_size), targets.reshape(-1))

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Accuracy for classification, MSE for regression."""
        if self.kind == "regression":
            return F.mse_loss(prediction.reshape(targets.shape), targets).item()
        return (prediction.argmax(-1) == targets).float().mean().item()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seq_len={self.seq_len})"


class AddingProblem(Task):
    r"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4; as in Le et al. 2015).

    Each step carries two inputs: a value drawn uniformly from :math:`[0, 1]` and a marker that
    is 1 at exactly two steps, one in the first half of the sequence and one in the second half,
    and 0 elsewhere. The target is the sum of the two marked values.

    *Baseline*: the sum of two independent :math:`U(0,1)` values has mean 1 and variance
    :math:`2 \cdot \tfrac{1}{12} = \tfrac{1}{6}`, so always predicting 1 (the best constant)
    scores an MSE of :math:`1/6 \approx 0.167`. A model beats it only by remembering the values.

    ``seq_len >= 2``; predictions ``(batch, 1)``, targets ``(batch, 1)``.
    """

    kind = "regression"
    input_size = 2
    output_size = 1
    baseline_loss = 1.0 / 6.0
    baseline_metric = 1.0 / 6.0

    def __init__(self, seq_len: int):
        self.seq_len = _check_int("seq_len (the adding problem needs two halves)", seq_len, 2)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        T, half = self.seq_len, self.seq_len // 2
        values = torch.rand(batch_size, T, generator=generator)
        first = _uniform_int(0, half - 1, batch_size, generator)
        second = _uniform_int(half, T - 1, batch_size, generator)
        markers = torch.zeros(batch_size, T)
        rows = torch.arange(batch_size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = torch.stack([values, markers], dim=-1)
        targets = (values * markers).sum(dim=1, keepdim=True)
        return inputs, targets


class TemporalOrder(Task):
    r"""The temporal-order problem (Hochreiter & Schmidhuber 1997, experiment 6a), as used by
    Pascanu et al. (2013) to test gradient clipping.

    A sequence of ``seq_len`` one-hot symbols: distractors drawn from ``num_distractors``
    symbols, except at two random steps, one in :math:`[0.1T, 0.2T]` and one in
    :math:`[0.5T, 0.6T]`, which carry a relevant symbol ``A`` or ``B``. The class is the ordered
    pair of relevant symbols: AA, AB, BA or BB (4 classes). Channels: 0 = A, 1 = B, then the
    distractors.

    *Baseline*: the four classes are equally likely, so chance accuracy is 1/4 and the best
    input-independent cross-entropy is :math:`\log 4 \approx 1.386`.
    Pascanu et al. count a run as solved when the error is below 1%.

    ``seq_len >= 2``; predictions ``(batch, 4)``, targets ``(batch,)`` class indices.
    """

    kind = "classification"
    output_size = 4
    baseline_loss = math.log(4)
    baseline_metric = 0.25

    def __init__(self, seq_len: int, num_distractors: int = 4):
        self.seq_len = _check_int(
            "seq_len (the temporal-order problem needs two steps)", seq_len, 2
        )
        self.num_distractors = _check_int("num_distractors", num_distractors, 1)
        self.input_size = 2 + num_distractors
        T = self.seq_len
        self.first_window = (int(0.1 * T), max(int(0.2 * T), int(0.1 * T)))
        self.second_window = (
            max(int(0.5 * T), self.first_window[1] + 1),
            max(int(0.6 * T), int(0.5 * T), self.first_window[1] + 1),
        )

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        T, rows = self.seq_len, torch.arange(batch_size)
        symbols = 2 + torch.randint(0, self.num_distractors, (batch_size, T), generator=generator)
        first = _uniform_int(*self.first_window, batch_size, generator)
        second = _uniform_int(*self.second_window, batch_size, generator)
        relevant = torch.randint(0, 2, (batch_size, 2), generator=generator)  # 0 = A, 1 = B
        symbols[rows, first] = relevant[:, 0]
        symbols[rows, second] = relevant[:, 1]
        inputs = F.one_hot(symbols, self.input_size).float()
        targets = 2 * relevant[:, 0] + relevant[:, 1]  # AA=0, AB=1, BA=2, BB=3
        return inputs, targets

    def __repr__(self) -> str:
        return f"TemporalOrder(seq_len={self.seq_len}, num_distractors={self.num_distractors})"


class DistantRecall(Task):
    r"""The lecture's long-distance example ("... she printed her *tickets*"): recall a token
    shown at the first step when asked at the last one.

    Step 1 shows a token drawn uniformly from ``num_tokens`` (one-hot in channels
    ``0..num_tokens-1``); steps 2 to ``seq_len - 1`` show distractor tokens drawn from the same
    vocabulary; the last step shows only the query marker (channel ``num_tokens``). The model must
    output the first token at the last step, ``seq_len - 1`` steps after seeing it. With
    ``seq_len = 1`` the token and the query share the one step.

    *Baseline*: the token is uniform, so chance accuracy is ``1 / num_tokens`` and the best
    input-independent cross-entropy is :math:`\log(\text{num\_tokens})`.

    Predictions ``(batch, num_tokens)``, targets ``(batch,)`` token indices.
    """

    kind = "classification"

    def __init__(self, seq_len: int, num_tokens: int = 8):
        self.seq_len = _check_int("seq_len", seq_len, 1)
        self.num_tokens = _check_int("num_tokens", num_tokens, 2)
        self.input_size = num_tokens + 1
        self.output_size = num_tokens
        self.baseline_loss = math.log(num_tokens)
        self.baseline_metric = 1.0 / num_tokens

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        T, K = self.seq_len, self.num_tokens
        tokens = torch.randint(0, K, (batch_size, T), generator=generator)
        inputs = torch.zeros(batch_size, T, K + 1)
        inputs[..., :K] = F.one_hot(tokens, K).float()
        if T > 1:
            inputs[:, -1, :K] = 0.0  # the last step carries only the query
        inputs[:, -1, K] = 1.0
        return inputs, tokens[:, 0].clone()

    def __repr__(self) -> str:
        return f"DistantRecall(seq_len={self.seq_len}, num_tokens={self.num_tokens})"


class CopyMemory(Task):
    r"""The copy-memory problem (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016).

    Input symbols: ``num_symbols`` data symbols (0..7 by default), a blank (``num_symbols``) and
    a delimiter (``num_symbols + 1``), one-hot. The sequence has ``T + 2 * copy_length`` steps,
    where ``T = delay``: ``copy_length`` random data symbols, ``T - 1`` blanks, the delimiter,
    then ``copy_length`` blanks during which the model must output the data symbols in order.
    The target is blank (class ``num_symbols``) at every step except the last
    ``copy_length``.

    *Baseline* (Arjovsky et al.): a memoryless predictor outputs blank for the first
    ``T + copy_length`` steps (loss 0) and the uniform distribution over the data symbols for the
    last ``copy_length`` (loss :math:`\log(\text{num\_symbols})` each), so the cross-entropy
    averaged over all steps is

    .. math:: \frac{\text{copy\_length} \cdot \log(\text{num\_symbols})}{T + 2\,\text{copy\_length}}
              = \frac{10 \log 8}{T + 20} \text{ with the defaults.}

    ``loss`` is that per-step cross-entropy over every step; ``metric`` is the accuracy on the
    ``copy_length`` steps that must be recalled (chance: ``1 / num_symbols``).
    Predictions ``(batch, time, num_symbols + 1)``, targets ``(batch, time)``.
    """

    kind = "classification"

    def __init__(self, delay: int, num_symbols: int = 8, copy_length: int = 10):
        self.delay = _check_int("delay", delay, 1)
        self.num_symbols = _check_int("num_symbols", num_symbols, 2)
        self.copy_length = _check_int("copy_length", copy_length, 1)
        self.seq_len = delay + 2 * copy_length
        self.blank, self.delimiter = num_symbols, num_symbols + 1
        self.input_size = num_symbols + 2
        self.output_size = num_symbols + 1
        self.baseline_loss = copy_length * math.log(num_symbols) / self.seq_len
        self.baseline_metric = 1.0 / num_symbols

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        L, T = self.copy_length, self.delay
        data = torch.randint(0, self.num_symbols, (batch_size, L), generator=generator)
        symbols = torch.full((batch_size, self.seq_len), self.blank, dtype=torch.long)
        symbols[:, :L] = data
        symbols[:, L + T - 1] = self.delimiter
        targets = torch.full((batch_size, self.seq_len), self.blank, dtype=torch.long)
        targets[:, -L:] = data
        return F.one_hot(symbols, self.input_size).float(), targets

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Accuracy on the last ``copy_length`` steps (the symbols to recall)."""
        L = self.copy_length
        return (prediction[:, -L:].argmax(-1) == targets[:, -L:]).float().mean().item()

    def __repr__(self) -> str:
        return (
            f"CopyMemory(delay={self.delay}, num_symbols={self.num_symbols}, "
            f"copy_length={self.copy_length})"
        )


class AnBn(Task):
    r"""Next-symbol prediction on the language :math:`a^n b^n` (Weiss, Goldberg & Yahav 2018).

    Symbols (one-hot, 4 channels): ``S`` = 0 (start), ``a`` = 1, ``b`` = 2, ``E`` = 3 (end).
    A sample with :math:`n` drawn uniformly from ``[min_n, max_n]`` is the input
    :math:`S\,a^n b^n` (length :math:`2n+1`) with targets :math:`a^n b^n E` (the next symbol at
    every step). Shorter sequences of a batch are padded with all-zero inputs and target
    ``PAD`` = -100, which ``loss`` and ``metric`` ignore, so a batch has ``seq_len = 2 max_n + 1``
    steps (or ``2 max(n) + 1`` with :meth:`sample_at`).

    Which predictions are *deterministic*: after ``S`` (next is ``a``) and after every ``b``
    (next is ``b`` until n of them, then ``E``). After an ``a`` the next symbol may be ``a`` or
    ``b``, as the model cannot know n. ``metric`` is Weiss et al.'s criterion: the fraction of
    sequences whose deterministic predictions (argmax) are *all* correct. Counting the ``b``'s
    is the whole difficulty.

    *Baseline*: ``baseline_loss`` is the exact cross-entropy (per counted token, as ``loss``
    averages it) of the best input-independent predictor, which knows only the position t: it
    predicts the distribution of the target at t over n. ``baseline_metric`` is that
    predictor's sequence accuracy over n uniform in ``[min_n, max_n]`` (exact; ties between
    equally likely symbols go to the smaller symbol index, as ``argmax`` does).

    Use :meth:`sample_at` with n beyond ``max_n`` to test generalisation.
    """

    kind = "classification"
    input_size = 4
    output_size = 4
    START, A, B, END, PAD = 0, 1, 2, 3, -100

    def __init__(self, max_n: int, min_n: int = 1):
        self.max_n = _check_int("max_n", max_n, 1)
        self.min_n = _check_int("min_n", min_n, 1)
        if min_n > max_n:
            raise ValueError(f"min_n must be <= max_n, got min_n={min_n}, max_n={max_n}")
        self.seq_len = 2 * max_n + 1
        self.baseline_loss, self.baseline_metric = self._position_only_baseline()

    def _targets_for(self, n: int) -> list[int]:
        return [self.A] * n + [self.B] * n + [self.END]

    def _position_only_baseline(self) -> tuple[float, float]:
        ns = range(self.min_n, self.max_n + 1)
        counts = [dict() for _ in range(self.seq_len)]  # counts[t][symbol]
        for n in ns:
            for t, y in enumerate(self._targets_for(n)):
                counts[t][y] = counts[t].get(y, 0) + 1
        total_tokens = sum(2 * n + 1 for n in ns)
        cross_entropy = 0.0
        for per_symbol in counts:
            here = sum(per_symbol.values())
            for c in per_symbol.values():
                cross_entropy -= c * math.log(c / here)
        argmax = [max(sorted(c), key=c.get) for c in counts]  # ties: the smallest symbol
        solved = sum(
            all(argmax[t] == self._targets_for(n)[t] for t in self._deterministic(n)) for n in ns
        )
        return cross_entropy / total_tokens, solved / len(ns)

    def _deterministic(self, n: int) -> list[int]:
        """Steps whose next symbol is determined by the prefix: after S and after every b."""
        return [0] + list(range(n + 1, 2 * n + 1))

    def sample_at(self, ns: Sequence[int] | torch.Tensor) -> Batch:
        """One sequence per value of ``ns`` (any n >= 1, also beyond ``max_n``), padded to
        ``2 max(ns) + 1`` steps."""
        ns = [int(n) for n in torch.as_tensor(ns).reshape(-1).tolist()]
        if not ns or min(ns) < 1:
            raise ValueError(f"every n must be >= 1, got {ns}")
        T = 2 * max(ns) + 1
        symbols = torch.full((len(ns), T), -1, dtype=torch.long)
        targets = torch.full((len(ns), T), self.PAD, dtype=torch.long)
        for row, n in enumerate(ns):
            symbols[row, : 2 * n + 1] = torch.tensor([self.START] + [self.A] * n + [self.B] * n)
            targets[row, : 2 * n + 1] = torch.tensor(self._targets_for(n))
        inputs = F.one_hot(symbols.clamp(min=0), 4).float() * (symbols >= 0).unsqueeze(-1)
        return inputs, targets

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        ns = _uniform_int(self.min_n, self.max_n, batch_size, generator)
        inputs, targets = self.sample_at(ns)
        pad = self.seq_len - inputs.shape[1]  # pad every batch to 2 max_n + 1 steps
        return F.pad(inputs, (0, 0, 0, pad)), F.pad(targets, (0, pad), value=self.PAD)

    def deterministic_mask(self, targets: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` bool: steps whose target is determined (t = 0, or the input is b).

        The input at step t is b exactly when the target at step t - 1 is b.
        """
        mask = torch.zeros_like(targets, dtype=torch.bool)
        mask[:, 0] = targets[:, 0] != self.PAD
        mask[:, 1:] = targets[:, :-1] == self.B
        return mask

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy averaged over the real (non-padding) steps."""
        return F.cross_entropy(
            prediction.reshape(-1, self.output_size), targets.reshape(-1), ignore_index=self.PAD
        )

    @torch.no_grad()
    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        """Fraction of sequences whose deterministic predictions are all correct."""
        mask = self.deterministic_mask(targets)
        wrong = (prediction.argmax(-1) != targets) & mask
        return (~wrong.any(dim=1)).float().mean().item()

    def __repr__(self) -> str:
        return f"AnBn(max_n={self.max_n}, min_n={self.min_n})"


class MovieSentiment(Task):
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
    :meth:`sample_sentences` gives the token ids with the labels and the contributions.

    >>> task = MovieSentiment()
    >>> inputs, targets = task.sample(2, torch.Generator().manual_seed(0))
    >>> tuple(inputs.shape), tuple(targets.shape)
    ((2, 7, 27), (2,))
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

    def __init__(self, target: str = "sentiment"):
        if target not in self.TARGETS:
            raise ValueError(f"target must be one of {self.TARGETS}, got {target!r}")
        self.target = target
        self.vocabulary = [word for words in self.SLOTS.values() for word in words]
        self.index = {word: k for k, word in enumerate(self.vocabulary)}
        self.input_size = len(self.vocabulary)
        if target == "sentiment":
            self.seq_len, self.output_size = 7, 2
            self.baseline_loss, self.baseline_metric = math.log(2), 0.5
        else:
            self.seq_len, self.output_size = 6, len(self.vocabulary)
            self.baseline_loss, self.baseline_metric = self._position_only_baseline()

    def _ids(self, slot: str, choice: torch.Tensor) -> torch.Tensor:
        """Token ids of ``SLOTS[slot][choice]``, element-wise."""
        return torch.tensor([self.index[w] for w in self.SLOTS[slot]])[choice]

    def sample_sentences(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """``tokens`` ``(batch, 7)`` ids; ``label`` ``(batch,)`` (1 positive, 0 negative);
        ``polarity`` ``(batch,)`` the phrase's :math:`p` (+1/-1); ``terribly`` ``(batch,)``
        bool, whether slot 4 is *terribly* (its contribution is then ``polarity``)."""
        self._check_batch_size(batch_size)
        B = batch_size

        def uniform(n: int) -> torch.Tensor:
            return torch.randint(0, n, (B,), generator=generator)

        def bernoulli(p: float) -> torch.Tensor:
            return torch.rand(B, generator=generator) < p

        negated = bernoulli(0.5)
        left = torch.where(negated, 0, 1 + uniform(3))
        terribly = bernoulli(0.5)
        other_adverb = 1 + uniform(3)  # very, quite, well
        adverb = torch.where(terribly, 0, other_adverb)
        # what follows: 0 positive adjective, 1 negative adjective, 2 participle
        u = torch.rand(B, generator=generator)
        after_terribly = torch.where(u < 0.5, 0, torch.where(u < 0.75, 1, 2))
        after_very = (u >= 0.5).long()
        kind = torch.where(terribly, after_terribly, torch.where(adverb == 3, 2, after_very))
        which = uniform(3)
        word = torch.where(
            kind == 0,
            self._ids("POSITIVE", which),
            torch.where(kind == 1, self._ids("NEGATIVE", which), self._ids("PARTICIPLE", which)),
        )
        # the phrase's polarity p: adjectives their own; terribly + participle -1; well + it +1
        polarity = torch.where(kind == 0, 1, -1)
        polarity = torch.where((kind == 2) & ~terribly, 1, polarity)
        sentiment = torch.where(negated, -polarity, polarity)
        tokens = torch.stack(
            [
                self._ids("DET", uniform(2)),
                self._ids("NOUN", uniform(4)),
                self._ids("VERB", uniform(2)),
                self._ids("LEFT", left),
                self._ids("ADVERB", adverb),
                word,
                self._ids("END", uniform(2)),
            ],
            dim=1,
        )
        return {
            "tokens": tokens,
            "label": (sentiment > 0).long(),
            "polarity": polarity,
            "terribly": terribly,
        }

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` token ids -> ``(batch, time, vocabulary size)`` float32 inputs."""
        return F.one_hot(tokens, self.input_size).float()

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """``(batch, time)`` token ids -> one string per sentence."""
        return [" ".join(self.vocabulary[k] for k in row) for row in tokens.tolist()]

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
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
        for column in tokens.T:
            p = torch.bincount(column, minlength=self.input_size).double() / samples
            entropy -= (p[p > 0] * p[p > 0].log()).sum().item()
            correct += p.max().item()
        return entropy / tokens.shape[1], correct / tokens.shape[1]

    def __repr__(self) -> str:
        return f"MovieSentiment(target={self.target!r})"


class NumberAgreement(Task):
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
    form. :meth:`words` turns inputs back into text.

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
        self.num_phrases = _check_int("num_phrases", num_phrases, 0)
        self.adjectives = _check_int("adjectives", adjectives, 0)
        self.num_nouns = _check_int("num_nouns", num_nouns, 1)
        if num_nouns > len(self.NOUNS):
            raise ValueError(f"num_nouns must be <= {len(self.NOUNS)}, got {num_nouns}")
        if not 0.0 <= attractor_prob <= 1.0:
            raise ValueError(f"attractor_prob must be in [0, 1], got {attractor_prob!r}")
        self.attractor_prob = float(attractor_prob)
        self.phrase_len = 3 + adjectives  # P the ADJ^a N
        self.seq_len = 2 + num_phrases * self.phrase_len + 1
        self._first_preposition = 3
        self._first_adjective = 3 + len(self.PREPOSITIONS)
        self._first_noun = self._first_adjective + len(self.ADJECTIVES)
        self.input_size = self._first_noun + 2 * num_nouns

    def vocabulary(self) -> list[str]:
        """The word of each input channel, in channel order."""
        nouns = [form for pair in self.NOUNS[: self.num_nouns] for form in pair]
        return ["<pad>", "the", "<verb>", *self.PREPOSITIONS, *self.ADJECTIVES, *nouns]

    def _nouns(self, numbers: torch.Tensor, generator) -> torch.Tensor:
        """Token ids of random lemmas with the given numbers (0 singular, 1 plural)."""
        lemmas = torch.randint(0, self.num_nouns, numbers.shape, generator=generator)
        return self._first_noun + 2 * lemmas + numbers

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
            words = [
                self._first_preposition
                + torch.randint(0, len(self.PREPOSITIONS), (B,), generator=generator),
                torch.full((B,), self.THE),
                *(
                    self._first_adjective
                    + torch.randint(0, len(self.ADJECTIVES), (B,), generator=generator)
                    for _ in range(self.adjectives)
                ),
                self._nouns(number, generator),
            ]
            present = phrases > j
            for offset, word in enumerate(words):
                position = (start + j * P + offset).clamp(max=T - 1)
                tokens[rows[present], position[present]] = word[present]
        return F.one_hot(tokens, self.input_size).float(), subject.clone()

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """Training sentences: ``m`` uniform in ``0..num_phrases``, each phrase's noun an
        attractor with probability ``attractor_prob``."""
        self._check_batch_size(batch_size)
        subject = torch.randint(0, 2, (batch_size,), generator=generator)
        phrases = _uniform_int(0, self.num_phrases, batch_size, generator)
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
        if isinstance(attractors, bool) or not isinstance(attractors, int):
            raise ValueError(f"attractors must be an integer, got {attractors!r}")
        if not 0 <= attractors <= self.num_phrases:
            raise ValueError(
                f"attractors must be between 0 and num_phrases={self.num_phrases}, got {attractors}"
            )
        subject = torch.randint(0, 2, (batch_size,), generator=generator)
        phrases = torch.full((batch_size,), self.num_phrases)
        j = torch.arange(self.num_phrases)
        # the last `attractors` phrases (nearest the verb), or the first ones
        placed = (j >= self.num_phrases - attractors) if nearest else (j < attractors)
        attractor = placed.expand(batch_size, self.num_phrases)
        return self._sentences(subject, phrases, attractor, generator)

    def nearest_noun_number(self, inputs: torch.Tensor) -> torch.Tensor:
        """The number (0 singular, 1 plural) of the noun nearest to the verb slot in each
        sentence of one-hot ``inputs`` ``(batch, time, input_size)``: the last phrase's noun,
        or the subject in a sentence without phrases. Returns ``(batch,)``."""
        tokens = inputs.argmax(-1)  # (B, T)
        is_noun = tokens >= self._first_noun
        steps = torch.arange(tokens.shape[1]).expand_as(tokens)
        last = torch.where(is_noun, steps, -1).max(dim=1).values  # (B,)
        if (last < 0).any():
            raise ValueError("every sentence must contain a noun")
        nearest = tokens[torch.arange(tokens.shape[0]), last]
        return (nearest - self._first_noun) % 2

    def words(self, inputs: torch.Tensor) -> list[str]:
        """The sentences of a batch of one-hot ``inputs`` as text, without the padding."""
        vocabulary = self.vocabulary()
        return [
            " ".join(vocabulary[i] for i in row.tolist() if i != self.PAD)
            for row in inputs.argmax(-1)
        ]

    def __repr__(self) -> str:
        return (
            f"NumberAgreement(num_phrases={self.num_phrases}, "
            f"attractor_prob={self.attractor_prob}, adjectives={self.adjectives}, "
            f"num_nouns={self.num_nouns})"
        )


class ShuffledTargets(Task):
    r"""A control for any sequence-to-one task: the same inputs, with the dependency removed.

    ``sample`` draws a batch from ``task`` and pairs sequence :math:`b` with the target of
    sequence :math:`b + 1` (the targets rolled by one position, the last taking the first's):

    .. math:: (x_b, y_b) \;\to\; (x_b, y_{(b + 1) \bmod B}).

    The inputs are exactly the wrapped task's, batch for batch and seed for seed, and so is the
    distribution of the targets; but the sequences of a batch are drawn independently, so no
    input carries any information about its new target. Nothing can be learned beyond the
    wrapped task's baseline, which is therefore also the best achievable loss here.
    ``batch_size`` must be at least 2.

    Every other attribute (sizes, ``kind``, baselines, ``loss``, ``metric``) is the wrapped
    task's.
    """

    def __init__(self, task: Task):
        if not isinstance(task, Task):
            raise ValueError(f"task must be an rnnlib Task, got {type(task).__name__}")
        self.task = task
        self.input_size, self.output_size = task.input_size, task.output_size
        self.seq_len, self.kind = task.seq_len, task.kind
        self.baseline_loss, self.baseline_metric = task.baseline_loss, task.baseline_metric

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """A batch of the wrapped task with its targets rolled by one position."""
        _check_int("batch_size (a shuffle needs two sequences)", batch_size, 2)
        inputs, targets = self.task.sample(batch_size, generator)
        return inputs, targets.roll(-1, dims=0)

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.task.loss(prediction, targets)

    def metric(self, prediction: torch.Tensor, targets: torch.Tensor) -> float:
        return self.task.metric(prediction, targets)

    def __repr__(self) -> str:
        return f"ShuffledTargets({self.task!r})"


class MagnitudeSum(Task):
    r"""A composition of two sequence transforms: a nonlinear map of each step, then a running
    sum (chapter 9: what depth buys and what it costs).

    Inputs :math:`x^{(t)}` are drawn uniformly from :math:`[-1, 1]` (one channel); the target at
    every step is the running sum of their magnitudes, centred:

    .. math:: y^{(t)} = \sum_{s=1}^{t} \left(\lvert x^{(s)} \rvert - \tfrac{1}{2}\right)

    The first transform, :math:`x \mapsto \lvert x \rvert`, is not monotone, so no single
    :math:`\tanh` of a linear function of :math:`x^{(t)}` computes it; the second, the sum, is
    linear. A stacked RNN can give each transform a layer; a one-layer vanilla RNN must compute
    :math:`\lvert x^{(t)} \rvert` in some units and add it to the sum one step later.

    *Baseline*: :math:`\lvert x \rvert - \tfrac12` has mean 0 and variance :math:`\tfrac{1}{12}`,
    so the best input-independent prediction is 0, whose MSE averaged over the steps is
    :math:`\tfrac{1}{12} \cdot \tfrac{1}{T} \sum_{t=1}^{T} t = \tfrac{T + 1}{24}`.

    ``loss`` and ``metric`` are the MSE over every step. Predictions ``(batch, time, 1)`` (from
    ``readout="every"``), targets ``(batch, time, 1)``.
    """

    kind = "regression"
    input_size = 1
    output_size = 1

    def __init__(self, seq_len: int):
        self.seq_len = _check_int("seq_len", seq_len, 1)
        self.baseline_loss = (seq_len + 1) / 24
        self.baseline_metric = self.baseline_loss

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        self._check_batch_size(batch_size)
        x = 2 * torch.rand(batch_size, self.seq_len, 1, generator=generator) - 1
        return x, (x.abs() - 0.5).cumsum(dim=1)
