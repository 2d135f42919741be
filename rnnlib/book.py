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
    glue into, and the chapter's code cell shows the value anyway.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)
