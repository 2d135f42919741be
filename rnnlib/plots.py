"""Plot helpers: one palette and one look for every figure of the book.

The palette is Okabe & Ito's, safe for the common forms of colour blindness. Figures have an
opaque white background so they stay readable when the website is in dark mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

__all__ = ["PALETTE", "use_book_style", "small_multiples", "label", "draw_lstm_cell"]

#: Okabe-Ito colours (black last), a colour-blind-safe qualitative palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def use_book_style() -> None:
    """Set matplotlib's defaults for the book: palette, grid, sizes, opaque backgrounds."""
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
    """Label both axes (with units) and optionally the title; returns ``ax``."""
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
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9.5, 5.6), layout="constrained")
    belt, bus, gates_y = 5.4, 1.3, 2.9
    x_f, x_i, x_c, x_o, x_out = 3.0, 4.6, 6.0, 7.6, 9.2
    erase, write, read = (_GATE_ROLES[k][1] for k in "fio")
    ax.add_patch(
        FancyBboxPatch(
            (1.0, 0.55),
            10.0,
            5.7,
            boxstyle="round,pad=0.1",
            facecolor="#F2F2F2",
            edgecolor="#999999",
            lw=1.2,
            zorder=0,
        )
    )
    # the conveyor belt: c^(t-1) -> x f -> + (i x c~) -> c^(t)
    _arrow(ax, [(-0.2, belt), (12.2, belt)], lw=3.0)
    _node(ax, x_f, belt, "x", erase)
    _node(ax, x_c, belt, "+", write)
    ax.text(-0.2, belt + 0.35, r"$c^{(t-1)}$", ha="left", va="bottom", fontsize=13)
    ax.text(12.2, belt + 0.35, r"$c^{(t)}$", ha="right", va="bottom", fontsize=13)
    ax.text(
        (x_c + x_out) / 2 + 0.4,
        belt + 0.35,
        "cell state: the conveyor belt",
        ha="center",
        va="bottom",
        fontsize=10,
        style="italic",
    )
    # the context [h^(t-1), x^(t)] along the bottom, one branch per gate
    ax.plot([-0.2, x_o], [bus, bus], color="black", lw=1.6)
    _arrow(ax, [(1.8, -0.4), (1.8, bus - 0.05)])
    ax.text(-0.2, bus - 0.3, r"$h^{(t-1)}$", ha="left", va="top", fontsize=13)
    ax.text(1.95, -0.4, r"$x^{(t)}$", ha="left", va="bottom", fontsize=13)
    ax.text(
        (x_f + x_o) / 2,
        bus - 0.35,
        r"context $[h^{(t-1)}, x^{(t)}]$ feeds every gate",
        ha="center",
        va="top",
        fontsize=10,
        style="italic",
    )
    for x, color in ((x_f, erase), (x_i, write), (x_c, write), (x_o, read)):
        _arrow(ax, [(x, bus), (x, gates_y - 0.42)], color=color)
    _gate(ax, x_f, gates_y, r"$\sigma$", r"$f^{(t)}$", erase)
    _gate(ax, x_i, gates_y, r"$\sigma$", r"$i^{(t)}$", write)
    _gate(ax, x_c, gates_y, "tanh", r"$\tilde c^{(t)}$", write)
    _gate(ax, x_o, gates_y, r"$\sigma$", r"$o^{(t)}$", read)
    # erase: f scales the old cell state
    _arrow(ax, [(x_f, gates_y + 0.42), (x_f, belt - 0.3)], color=erase)
    # write: i x c~ is added to the belt
    _node(ax, x_c, 4.25, "x", write)
    _arrow(ax, [(x_i, gates_y + 0.42), (x_i, 4.25), (x_c - 0.3, 4.25)], color=write)
    _arrow(ax, [(x_c, gates_y + 0.42), (x_c, 4.25 - 0.3)], color=write)
    _arrow(ax, [(x_c, 4.25 + 0.28), (x_c, belt - 0.3)], color=write)
    # read: h^(t) = o x tanh(c^(t))
    _node(ax, x_out, 4.25, "tanh", read)
    _node(ax, x_out, gates_y, "x", read)
    _arrow(ax, [(x_out, belt), (x_out, 4.25 + 0.44)], color=read)
    _arrow(ax, [(x_out, 4.25 - 0.44), (x_out, gates_y + 0.3)], color=read)
    _arrow(ax, [(x_o + 0.6, gates_y), (x_out - 0.3, gates_y)], color=read)
    _arrow(ax, [(x_out, gates_y - 0.3), (x_out, bus), (12.2, bus)], lw=1.6)
    _arrow(ax, [(10.5, bus), (10.5, 6.9)], lw=1.6)
    ax.text(12.2, bus - 0.3, r"$h^{(t)}$", ha="right", va="top", fontsize=13)
    ax.text(10.65, 6.9, r"$h^{(t)}$", ha="left", va="top", fontsize=13)
    for (role, color), x, y in (
        (_GATE_ROLES["f"], x_f, belt + 0.45),
        (_GATE_ROLES["i"], x_c, belt + 0.45),
        (_GATE_ROLES["o"], x_out - 0.6, 4.1),
    ):
        ax.text(
            x,
            y,
            role,
            ha="center" if role != "read" else "right",
            va="bottom",
            fontsize=12,
            weight="bold",
            color=color,
        )
    ax.set_xlim(-0.4, 12.4)
    ax.set_ylim(-0.6, 7.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
