"""Interactive explorers: an ipywidgets control that redraws a figure.

A chapter calls :func:`explorer` in a cell tagged ``remove-output`` (the website has no kernel
to drive the widget) and shows :func:`rnnlib.plots.small_multiples` over the same values in the
next cell, so a reader of the website loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt

__all__ = ["explorer"]


def explorer(draw: Callable[..., None], figsize: tuple[float, float] = (6.4, 4.0), **controls):
    """Return an ``ipywidgets.interactive`` that calls ``draw(ax, **values)`` on every change.

    ``controls`` are ipywidgets abbreviations or widgets, e.g.
    ``spectral_radius=(0.5, 1.5, 0.05)`` for a float slider or ``nonlinearity=["tanh", "relu"]``
    for a dropdown. Display the returned object (make it the cell's last expression).
    """
    import ipywidgets as widgets

    if not controls:
        raise ValueError("explorer needs at least one control, e.g. spectral_radius=(0.5, 1.5)")

    def redraw(**values):
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        draw(ax, **values)
        plt.show()

    return widgets.interactive(redraw, **controls)
