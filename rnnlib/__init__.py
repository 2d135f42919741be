"""rnnlib: the library behind the book *Getting RNNs to Work*.

Modules, one job each:

* :mod:`rnnlib.cells`: ``RNNCell``, ``LSTMCell``, ``GRUCell`` from the lecture's equations;
* :mod:`rnnlib.nonlinearities`: the one table of :math:`\\sigma`, :math:`\\sigma'` and
  :math:`\\gamma` (tanh, sigmoid, relu, identity);
* :mod:`rnnlib.recurrent_cell`: what every cell shares (parameters, ensembles, states,
  copying weights to and from ``torch.nn``);
* :mod:`rnnlib.layers`: a cell unrolled over time, and ``RNN``, ``LSTM``, ``GRU`` with
  ``torch.nn``'s interface;
* :mod:`rnnlib.wrappers`: both directions at once, and layers stacked, plain or with residual
  or dense connections;
* :mod:`rnnlib.fused`: the LSTM and GRU layers' recurrences, each as one autograd node with
  hand-written backpropagation through time (for speed; the per-step cell is the reference);
* :mod:`rnnlib.device`: device choice, seeding (``seeds``, ``RNNLIB_SEED_OFFSET``) and threads;
* :mod:`rnnlib.checks`: input checks with readable errors;
* :mod:`rnnlib.exercises`: checkers for the "implement it" exercises (the chain rule, an LSTM
  step, a GRU step, clipping by norm, Jacobian products, scaling to a spectral radius, a
  highway layer, a bidirectional pass, a residual stack of RNN layers, the reach of a
  gradient);
* :mod:`rnnlib.gradients`: gradient-flow instruments (per-step gradient norms, Jacobian
  products, spectral tools and initialisations);
* :mod:`rnnlib.clipping`: gradient clipping by norm and by value, from scratch;
* :mod:`rnnlib.deep`: plain, residual, highway and dense blocks for deep feed-forward
  networks, a builder and per-layer gradient norms;
* :mod:`rnnlib.tasks`: synthetic tasks with documented chance baselines;
* :mod:`rnnlib.models`: a recurrent layer with a linear readout;
* :mod:`rnnlib.train`: the training loop ``fit``, ``restore`` and ``evaluate``;
* :mod:`rnnlib.history`: what a run records, ``History``, ``Checkpoint``,
  ``NonFiniteLossError``;
* :mod:`rnnlib.ensembles`: many seeds at once, ``fit_ensemble`` (an ``ensemble=k`` model) and
  ``fit_seeds`` (one model per seed, batched with ``vmap``);
* :mod:`rnnlib.plots`: the book's palette, small multiples, the LSTM diagram and a run's curves;
* :mod:`rnnlib.book`: ``glue``, numbers from a run into a page's prose;
* :mod:`rnnlib.claims`: every claim a chapter makes, ``exact`` or statistical (``claim``),
  checked, printed with its margin and logged;
* :mod:`rnnlib.calibration`: how often a statistical claim fails, from calibration draws;
* :mod:`rnnlib.widgets`: interactive explorers.

``import rnnlib`` loads the cells, the layers and the device helpers; every other module loads
when first named (``rnnlib.train``), so that importing the library does not import matplotlib.

Not here: the chapters' teaching code (each chapter writes its equations in the open and calls
rnnlib for the plumbing), data downloads (every task is synthetic or shipped with a package),
and the book's build tools (``tools/``, ``_extensions/``).
"""

import importlib

from .cells import GRUCell, LSTMCell, RecurrentCell, RNNCell
from .device import get_device, seed, seed_everything, seeds, setup
from .layers import GRU, LSTM, RNN, Bidirectional, RecurrentLayer, StackedRNN
from .nonlinearities import NONLINEARITIES

#: The modules, loaded on first use (``rnnlib.plots`` imports matplotlib only when a chapter
#: asks for it): ``import rnnlib`` loads just the cells, the layers and the device helpers.
SUBMODULES = (
    "book",
    "calibration",
    "cells",
    "checks",
    "claims",
    "clipping",
    "deep",
    "device",
    "ensembles",
    "exercises",
    "fused",
    "gradients",
    "history",
    "layers",
    "models",
    "nonlinearities",
    "plots",
    "recurrent_cell",
    "tasks",
    "train",
    "widgets",
    "wrappers",
)


def __getattr__(name: str):
    """PEP 562: ``rnnlib.train`` and the other modules are imported when first named."""
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rnnlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(SUBMODULES))


__version__ = "0.1.0"

__all__ = [
    *SUBMODULES,
    "NONLINEARITIES",
    "RecurrentCell",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RecurrentLayer",
    "Bidirectional",
    "StackedRNN",
    "RNN",
    "LSTM",
    "GRU",
    "get_device",
    "seed_everything",
    "seed",
    "seeds",
    "setup",
]
