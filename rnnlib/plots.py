"""Plot helpers: one palette and one look for every figure of the book.

The palette is Okabe & Ito's, safe for the common forms of colour blindness. Figures have an
opaque white background so they stay readable when the website is in dark mode.

Here: the palette and style, labelled small multiples, the LSTM cell's diagram
(:func:`draw_lstm_cell`) and a training run's curves (:func:`plot_history`).

Not here: the interactive explorers (:mod:`rnnlib.widgets`) and the chapters' own figures,
which the chapters draw in the open so that a reader sees how.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from .history import History

__all__ = [
    "PALETTE",
    "use_book_style",
    "small_multiples",
    "label",
    "draw_lstm_cell",
    "plot_history",
]

#: Okabe-Ito colours (black last), a colour-blind-safe qualitative palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_book_style() -> None:
    """Set matplotlib's defaults for the book: palette, grid, sizes, opaque backgrounds.

    >>> with plt.rc_context():  # the book's style inside, matplotlib's own again after
    ...     use_book_style()
    ...     plt.rcParams["axes.prop_cycle"].by_key()["color"] == PALETTE
    True
    """
    plt.rcParams.update(
        {
            "axes.prop_cycle": plt.cycler(color=PALETTE),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 120,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "legend.frameon": False,
            "font.size": 11,
        }
    )


def label(ax: Axes, xlabel: str, ylabel: str, title: str | None = None) -> Axes:
    """Label both axes (with units) and optionally the title; returns ``ax``.

    >>> figure, ax = plt.subplots()
    >>> label(ax, "time step t", "gradient norm").get_xlabel()
    'time step t'
    >>> plt.close(figure)
    """
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def small_multiples(
    draw: Callable[..., None],
    name: str,
    values: Sequence,
    ncols: int = 3,
    panel_size: tuple[float, float] = (3.6, 2.8),
    sharey: bool = True,
    title: str = "{name} = {value}",
    **fixed,
) -> Figure:
    r"""One panel per value of a control: ``draw(ax, **{name: value}, **fixed)``.

    ``title`` formats each panel's title from ``name`` and ``value``; write the symbol the
    reader knows, e.g. ``title=r"$\rho = {value}$"``.

    This is the static twin of an interactive explorer (see :mod:`rnnlib.widgets`): on the
    website, where no kernel runs, the reader sees the plot at every value the slider offers.

    >>> def draw(ax, slope):
    ...     ax.plot([0, 1], [0, slope])
    >>> figure = small_multiples(draw, "slope", [1, 2, 3, 4], ncols=2)
    >>> [ax.get_title() for ax in figure.axes]
    ['slope = 1', 'slope = 2', 'slope = 3', 'slope = 4']
    >>> plt.close(figure)
    """
    values = list(values)
    if not values:
        raise ValueError("small_multiples needs at least one value")
    ncols = min(ncols, len(values))
    nrows = -(-len(values) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
        sharey=sharey,
        squeeze=False,
        layout="constrained",
    )
    for ax, value in zip(axes.flat, values, strict=False):
        draw(ax, **{name: value}, **fixed)
        ax.set_title(title.format(name=name, value=value))
    for ax in list(axes.flat)[len(values) :]:
        ax.set_visible(False)
    return fig


# What each gate of draw_lstm_cell does, in the lecture's words, and its colour.
_GATE_ROLES = {
    "f": ("erase", PALETTE[1]),
    "i": ("write", PALETTE[2]),
    "o": ("read", PALETTE[0]),
}


def _arrow(ax: Axes, points: Sequence[tuple[float, float]], color: str = "black", lw=1.6):
    """A polyline through ``points`` with an arrow head at the last one."""
    xs, ys = zip(*points, strict=True)
    ax.plot(xs[:-1] + (xs[-1],), ys[:-1] + (ys[-1],), color=color, lw=lw, solid_capstyle="round")
    ax.annotate(
        "",
        xy=points[-1],
        xytext=points[-2],
        arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw, "shrinkA": 0, "shrinkB": 0},
    )


def _node(ax: Axes, x: float, y: float, symbol: str, color: str = "black") -> None:
    """A pointwise operation (``"x"``: product, ``"+"``: sum, ``"tanh"``) drawn as a circle."""
    radius = 0.42 if symbol == "tanh" else 0.28
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=color, lw=1.6, zorder=3))
    text = {"x": r"$\times$", "+": r"$+$", "tanh": "tanh"}[symbol]
    ax.text(x, y, text, ha="center", va="center", fontsize=10 if symbol == "tanh" else 14, zorder=4)


def _gate(ax: Axes, x: float, y: float, squash: str, name: str, color: str) -> None:
    """A layer box (``squash``: sigma or tanh) computing the gate ``name`` from h and x."""
    box = FancyBboxPatch(
        (x - 0.55, y - 0.35),
        1.1,
        0.7,
        boxstyle="round,pad=0.05",
        facecolor="#FFF5CC",
        edgecolor=color,
        lw=1.8,
        zorder=3,
    )
    ax.add_patch(box)
    ax.text(x, y, squash, ha="center", va="center", fontsize=12, zorder=4)
    ax.text(x + 0.65, y + 0.62, name, ha="left", va="center", fontsize=12, color=color, zorder=4)


def draw_lstm_cell(ax: Axes | None = None) -> Axes:
    r"""Draw one LSTM cell in the style of Olah's diagrams; returns the axes.

    The cell state runs along the top as a conveyor belt,
    :math:`c^{(t)} = f^{(t)} \circ c^{(t-1)} + i^{(t)} \circ \tilde c^{(t)}`; the context
    :math:`[h^{(t-1)}, x^{(t)}]` runs along the bottom and feeds four layers: the forget gate
    :math:`f^{(t)} = \sigma(\cdot)` (erase), the input gate :math:`i^{(t)} = \sigma(\cdot)` and
    the new content :math:`\tilde c^{(t)} = \tanh(\cdot)` (write), and the output gate
    :math:`o^{(t)} = \sigma(\cdot)` (read), which gives :math:`h^{(t)} = o^{(t)} \circ \tanh
    c^{(t)}`. Each role has its colour from ``PALETTE`` (erase vermillion, write green, read
    blue). ``ax=None`` makes a new figure.

    >>> ax = draw_lstm_cell()
    >>> [text.get_text() for text in ax.texts if text.get_text() in ("erase", "write", "read")]
    ['erase', 'write', 'read']
    >>> plt.close(ax.figure)
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 5.6), layout="constrained")
    ax.add_patch(
        FancyBboxPatch(
            (1.0, 0.55), 10.0, 5.7, boxstyle="round,pad=0.1",
            facecolor="#F2F2F2", edgecolor="#999999", lw=1.2, zorder=0,
        )
    )  # fmt: skip
    _draw_belt(ax)
    _draw_context(ax)
    _draw_erase_and_write(ax)
    _draw_read(ax)
    _label_roles(ax)
    ax.set_xlim(-0.4, 12.4)
    ax.set_ylim(-0.6, 7.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


# The diagram's layout: heights of the belt (c), the bus ([h, x]) and the gate boxes; the
# x position of each gate's column and of the output column.
_BELT, _BUS, _GATES_Y, _WRITE_Y = 5.4, 1.3, 2.9, 4.25
_X = {"f": 3.0, "i": 4.6, "c": 6.0, "o": 7.6, "out": 9.2}
_ERASE, _WRITE, _READ = (_GATE_ROLES[k][1] for k in "fio")


def _draw_belt(ax: Axes) -> None:
    """The conveyor belt: c^(t-1) -> x f -> + (i x c~) -> c^(t)."""
    _arrow(ax, [(-0.2, _BELT), (12.2, _BELT)], lw=3.0)
    _node(ax, _X["f"], _BELT, "x", _ERASE)
    _node(ax, _X["c"], _BELT, "+", _WRITE)
    ax.text(-0.2, _BELT + 0.35, r"$c^{(t-1)}$", ha="left", va="bottom", fontsize=13)
    ax.text(12.2, _BELT + 0.35, r"$c^{(t)}$", ha="right", va="bottom", fontsize=13)
    ax.text(
        (_X["c"] + _X["out"]) / 2 + 0.4, _BELT + 0.35, "cell state: the conveyor belt",
        ha="center", va="bottom", fontsize=10, style="italic",
    )  # fmt: skip


def _draw_context(ax: Axes) -> None:
    """The context [h^(t-1), x^(t)] along the bottom, one branch into each gate's box."""
    ax.plot([-0.2, _X["o"]], [_BUS, _BUS], color="black", lw=1.6)
    _arrow(ax, [(1.8, -0.4), (1.8, _BUS - 0.05)])
    ax.text(-0.2, _BUS - 0.3, r"$h^{(t-1)}$", ha="left", va="top", fontsize=13)
    ax.text(1.95, -0.4, r"$x^{(t)}$", ha="left", va="bottom", fontsize=13)
    ax.text(
        (_X["f"] + _X["o"]) / 2, _BUS - 0.35, r"context $[h^{(t-1)}, x^{(t)}]$ feeds every gate",
        ha="center", va="top", fontsize=10, style="italic",
    )  # fmt: skip
    for gate, color in (("f", _ERASE), ("i", _WRITE), ("c", _WRITE), ("o", _READ)):
        _arrow(ax, [(_X[gate], _BUS), (_X[gate], _GATES_Y - 0.42)], color=color)
    _gate(ax, _X["f"], _GATES_Y, r"$\sigma$", r"$f^{(t)}$", _ERASE)
    _gate(ax, _X["i"], _GATES_Y, r"$\sigma$", r"$i^{(t)}$", _WRITE)
    _gate(ax, _X["c"], _GATES_Y, "tanh", r"$\tilde c^{(t)}$", _WRITE)
    _gate(ax, _X["o"], _GATES_Y, r"$\sigma$", r"$o^{(t)}$", _READ)


def _draw_erase_and_write(ax: Axes) -> None:
    """Erase: f scales the old cell state. Write: i x c~ is added to the belt."""
    x_f, x_i, x_c, top = _X["f"], _X["i"], _X["c"], _GATES_Y + 0.42
    _arrow(ax, [(x_f, top), (x_f, _BELT - 0.3)], color=_ERASE)
    _node(ax, x_c, _WRITE_Y, "x", _WRITE)
    _arrow(ax, [(x_i, top), (x_i, _WRITE_Y), (x_c - 0.3, _WRITE_Y)], color=_WRITE)
    _arrow(ax, [(x_c, top), (x_c, _WRITE_Y - 0.3)], color=_WRITE)
    _arrow(ax, [(x_c, _WRITE_Y + 0.28), (x_c, _BELT - 0.3)], color=_WRITE)


def _draw_read(ax: Axes) -> None:
    """Read: h^(t) = o x tanh(c^(t)), out to the right and up to the next layer."""
    x_out = _X["out"]
    _node(ax, x_out, _WRITE_Y, "tanh", _READ)
    _node(ax, x_out, _GATES_Y, "x", _READ)
    _arrow(ax, [(x_out, _BELT), (x_out, _WRITE_Y + 0.44)], color=_READ)
    _arrow(ax, [(x_out, _WRITE_Y - 0.44), (x_out, _GATES_Y + 0.3)], color=_READ)
    _arrow(ax, [(_X["o"] + 0.6, _GATES_Y), (x_out - 0.3, _GATES_Y)], color=_READ)
    _arrow(ax, [(x_out, _GATES_Y - 0.3), (x_out, _BUS), (12.2, _BUS)], lw=1.6)
    _arrow(ax, [(10.5, _BUS), (10.5, 6.9)], lw=1.6)
    ax.text(12.2, _BUS - 0.3, r"$h^{(t)}$", ha="right", va="top", fontsize=13)
    ax.text(10.65, 6.9, r"$h^{(t)}$", ha="left", va="top", fontsize=13)


def _label_roles(ax: Axes) -> None:
    """The lecture's words for the three gates: erase, write, read."""
    for (role, color), x, y in (
        (_GATE_ROLES["f"], _X["f"], _BELT + 0.45),
        (_GATE_ROLES["i"], _X["c"], _BELT + 0.45),
        (_GATE_ROLES["o"], _X["out"] - 0.6, 4.1),
    ):
        align = "right" if role == "read" else "center"
        ax.text(x, y, role, ha=align, va="bottom", fontsize=12, weight="bold", color=color)


# --- a training run ----------------------------------------------------------------------------
def plot_history(
    history: History,
    ax: Axes | Sequence[Axes] | None = None,
    label_text: str | None = None,
    color: str | None = None,
) -> Figure | Axes | Sequence[Axes]:
    """Plot a :class:`~rnnlib.history.History`: the loss (log scale) and the gradient norms
    with the clipping threshold.

    ``ax=None`` makes a new figure with two panels and returns it; a pair of axes draws the
    two panels there; a single ``Axes`` draws only the loss (to overlay several runs, with
    ``label_text`` in the legend). A dashed line marks the step where training broke, if it
    did.

    >>> from rnnlib.history import History
    >>> figure = plot_history(History(loss=[1.0, 0.5], grad_norm=[3.0, 2.0]))
    >>> [axes.get_ylabel() for axes in figure.axes]
    ['loss (log scale)', 'gradient norm (log scale)']
    >>> plt.close(figure)
    """
    figure = None
    if ax is None:
        figure, ax = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    loss_ax, norm_ax = (ax, None) if isinstance(ax, Axes) else ax
    _plot_loss(loss_ax, history, label_text, color or PALETTE[0], baseline=norm_ax is not None)
    if norm_ax is not None:
        _plot_grad_norms(norm_ax, history)
    return figure if figure is not None else ax


def _plot_loss(ax: Axes, history: History, label_text, color: str, baseline: bool) -> None:
    steps = range(len(history.loss))
    ax.plot(steps, history.loss, color=color, lw=1, label=label_text or "training loss")
    if baseline and history.baseline_loss is not None:
        ax.axhline(history.baseline_loss, color=PALETTE[7], ls=":", lw=1, label="chance baseline")
    ax.set_yscale("log")
    broken = history.first_nonfinite_step()
    if broken is not None:
        ax.axvline(broken, color=PALETTE[1], ls="--", lw=1, label=f"non-finite from step {broken}")
    label(ax, "training step", "loss (log scale)")
    ax.legend()


def _plot_grad_norms(ax: Axes, history: History) -> None:
    steps = range(len(history.grad_norm))
    ax.plot(steps, history.grad_norm, color=PALETTE[1], lw=1, label=r"$\|g\|$ before clipping")
    if history.clip_norm is not None or history.clip_value is not None:
        after = history.grad_norm_clipped
        ax.plot(steps, after, color=PALETTE[2], lw=1, label=r"$\|g\|$ after clipping")
    if history.clip_norm is not None:
        threshold = f"clip_norm = {history.clip_norm:g}"
        ax.axhline(history.clip_norm, color=PALETTE[7], ls="--", lw=1, label=threshold)
    ax.set_yscale("log")
    label(ax, "training step", "gradient norm (log scale)")
    ax.legend()
