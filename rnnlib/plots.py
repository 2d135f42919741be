"""Plot helpers: one palette and one look for every figure of the book.

The palette is Okabe & Ito's, safe for the common forms of colour blindness. Figures have an
opaque white background so they stay readable when the website is in dark mode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["PALETTE", "use_book_style", "small_multiples", "label"]

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
