"""Helpers for the book's pages: numbers from a run, glued into the prose.

A number in a chapter's text that comes from a run (a ratio, a timing) must not be typed: the
next run, on another machine, gives another value. :func:`glue` stores a value under a name;
the page's Markdown shows it with the role ``{glue:text}`name:.2f``` (MyST-NB), so the website
always prints the numbers of the run that built it.

Not here: anything a chapter's reader needs outside the website (in Jupyter or Colab the
value is simply not displayed; the code cell prints it as well).
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any) -> None:
    """Make ``value`` available to the page as ``{glue:text}`name``` (MyST-NB's glue).

    Does nothing where MyST-NB is not installed (Colab, a plain Jupyter): there is no page to
    glue into, and the chapter's code cell shows the value anyway. A NumPy or torch scalar is
    glued as the Python number it holds (its repr, ``np.float64(0.5)``, is not a number that
    ``{glue:text}`name:.2f``` can format).

    Outside a notebook there is no page, and nothing happens:

    >>> import numpy as np
    >>> glue("ch00.ratio", np.float64(0.5))
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, _plain(value), display=False)


def _plain(value: Any) -> Any:
    """A zero-dimensional NumPy array, NumPy scalar or torch tensor as a Python number."""
    if hasattr(value, "ndim") and value.ndim == 0 and hasattr(value, "item"):
        return value.item()
    return value
