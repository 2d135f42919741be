"""Interactive explorers: a control that redraws a figure, live in Jupyter and on the website.

In Jupyter or Colab ``explorer`` returns an ``ipywidgets.interactive``: every move of a
control calls ``draw(ax, **values)`` again. The website has no kernel, so when the book is built
(the build sets ``FRAMES_VARIABLE``; ``_extensions/explorer_slider.py`` does it) the explorer
instead draws the figure once at every value of a grid over its controls and returns those
frames; the extension turns them into an HTML slider that swaps the precomputed images, with a
caption that says what each frame shows. A chapter calls the explorer in a cell tagged
``remove-output`` (the live widget never reaches the website; the slider does).

The grid: a slider's values are ``min, min + step, ..., max``; when there are more than
``MOST_VALUES`` (``MOST_LATER_VALUES`` for the controls after the first), every k-th value
counted from the initial one is kept (with both ends), for the smallest k that fits. The first
control always varies; each later one varies too while the product of the grids stays within
``MOST_FRAMES``, and is otherwise held at its initial value. The cost is one draw and one PNG
per frame, paid only by the book build.

Not here: the figures that the explorers draw (:mod:`rnnlib.plots` and the chapters' own
``draw`` functions), and the HTML slider built from the frames
(``_extensions/explorer_slider.py``).
"""

from __future__ import annotations

import base64
import inspect
import io
import itertools
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["explorer"]

#: Set (to anything but "" or "0") by the book build: explorers then precompute their frames.
FRAMES_VARIABLE = "RNNLIB_EXPLORER_FRAMES"
#: The output's MIME type, which ``_extensions/explorer_slider.py`` turns into the slider.
MIME_TYPE = "application/vnd.rnnlib.explorer+json"
#: The frames are glued (MyST-NB) under ``GLUE_PREFIX + "<n>"``: the n-th explorer that the
#: kernel ran, counted from 0 (glued data survives ``remove-output``).
GLUE_PREFIX = "rnnlib-explorer:"
#: At most this many values per control on the website's slider.
MOST_VALUES = 25
#: At most this many values for each control after the first.
MOST_LATER_VALUES = 5
#: At most this many frames per explorer (the product of the varying controls' grids).
MOST_FRAMES = 100
#: Resolution of the precomputed frames (the book's figures are 6.4 in wide: 640 px).
FRAME_DPI = 100


def explorer(draw: Callable[..., None], figsize: tuple[float, float] = (6.4, 4.0), **controls):
    """Return an ``ipywidgets.interactive`` that calls ``draw(ax, **values)`` on every change.

    ``controls`` are ipywidgets abbreviations or widgets, e.g.
    ``spectral_radius=(0.5, 1.5, 0.05)`` for a float slider or ``nonlinearity=["tanh", "relu"]``
    for a dropdown. Display the returned object (make it the cell's last expression).

    When ``FRAMES_VARIABLE`` is set (the book build), return ``Frames`` instead: the
    figure drawn at every point of ``grid_of`` the controls, for the website's slider.

    Outside the book build (``RNNLIB_EXPLORER_FRAMES`` unset or ``0``):

    >>> import contextlib
    >>> from unittest import mock
    >>> def draw(ax, spectral_radius=1.0):
    ...     ax.plot(range(10), [spectral_radius**k for k in range(10)])
    >>> outside_the_build = mock.patch.dict(os.environ, {FRAMES_VARIABLE: "0"})
    >>> with outside_the_build, contextlib.redirect_stdout(io.StringIO()):  # no ANSI codes
    ...     widget = explorer(draw, spectral_radius=(0.5, 1.5, 0.25))
    >>> type(widget).__name__, widget.kwargs
    ('interactive', {'spectral_radius': 1.0})
    >>> plt.close("all")
    """
    if not controls:
        raise ValueError("explorer needs at least one control, e.g. spectral_radius=(0.5, 1.5)")
    widgets = _widgets(draw, controls)
    if os.environ.get(FRAMES_VARIABLE, "") not in ("", "0"):
        frames = precompute(draw, figsize, widgets)
        publish(frames)
        return frames
    import ipywidgets

    def redraw(**values):
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        draw(ax, **values)
        plt.show()

    return ipywidgets.interactive(redraw, **widgets)


def _widgets(draw: Callable[..., None], controls: dict[str, Any]) -> dict[str, Any]:
    """Each control as the widget ipywidgets makes of it; a default of ``draw``'s own signature
    is the initial value where the control offers it."""
    from ipywidgets import ValueWidget, interactive

    parameters = inspect.signature(draw).parameters
    made = {}
    for name, abbreviation in controls.items():
        if isinstance(abbreviation, ValueWidget):
            made[name] = abbreviation
            continue
        default = parameters[name].default if name in parameters else inspect.Parameter.empty
        widget = interactive.widget_from_abbrev(abbreviation, default)
        if widget is None:
            raise ValueError(f"explorer: cannot make a control of {name}={abbreviation!r}")
        made[name] = widget
    return made


# --- the grid ------------------------------------------------------------------------------------
@dataclass
class Control:
    """One control on the website: its values, the one shown first, and whether it varies."""

    name: str
    values: list
    initial: Any
    varies: bool = True

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "label": self.label,
            "values": [_plain(v) for v in self.values],
            "texts": [format_value(v) for v in self.values],
            "initial": self.values.index(self.initial),
            "varies": self.varies,
        }


def slider_values(low: float, high: float, step: float) -> list[float]:
    """``low, low + step, ..., high`` as the slider offers them (rounded to the step's digits)."""
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    digits = max(0, -int(math.floor(math.log10(abs(step))))) + 2 if step else 6
    return [round(low + i * step, digits) for i in range(count)]


def thin(values: Sequence[float], step: float, most: int, anchor: float | None = None) -> list:
    """Every k-th value counted from ``anchor`` (by default the first), with both ends, for the
    smallest k that leaves at most ``most`` values: the initial value stays on the grid, and so
    do its round neighbours (1.0, 1.1, ... from an anchor of 1.0, not 1.05)."""
    values = list(values)
    if len(values) <= most:
        return values
    anchor = values[0] if anchor is None else anchor
    for k in range(2, len(values)):
        wide = k * step
        kept = [v for v in values if abs((v - anchor) / wide - round((v - anchor) / wide)) < 1e-6]
        kept = sorted({values[0], *kept, values[-1]})
        if len(kept) <= most:
            return kept
    return [values[0], values[-1]]


def _nearest(values: Sequence, value) -> Any:
    if value in values:
        return value
    if isinstance(value, int | float) and all(isinstance(v, int | float) for v in values):
        return min(values, key=lambda v: abs(v - value))
    return values[0]


def _control(name: str, widget, most: int) -> Control:
    """The grid of one ipywidgets control (slider or selection) for the website."""
    if hasattr(widget, "options"):
        values = [value for _, value in _options(widget)]
    elif all(hasattr(widget, attribute) for attribute in ("min", "max", "step")):
        values = slider_values(widget.min, widget.max, widget.step)
        if isinstance(widget.step, int) and isinstance(widget.min, int):
            values = [int(v) for v in values]
        values = thin(values, widget.step, most, anchor=_nearest(values, widget.value))
    else:
        raise ValueError(f"explorer: no website grid for the control {name} ({type(widget)})")
    return Control(name, values, _nearest(values, widget.value))


def _options(widget) -> list[tuple[str, Any]]:
    labels = getattr(widget, "_options_labels", None)
    values = getattr(widget, "_options_values", None)
    if labels is not None and values is not None:
        return list(zip(labels, values, strict=True))
    return [(str(option), option) for option in widget.options]


def grid_of(widgets: dict[str, Any]) -> list[Control]:
    """The website's controls: the first varies over at most ``MOST_VALUES`` values; each
    later one (over at most ``MOST_LATER_VALUES``) varies while the number of frames stays
    within ``MOST_FRAMES``, and is held at its initial value otherwise."""
    controls, frames = [], 1
    for index, (name, widget) in enumerate(widgets.items()):
        control = _control(name, widget, MOST_LATER_VALUES if index else MOST_VALUES)
        if index > 0 and frames * len(control.values) > MOST_FRAMES:
            control.varies = False
        if control.varies:
            frames *= len(control.values)
        controls.append(control)
    return controls


# --- the frames ----------------------------------------------------------------------------------
@dataclass
class Frames:
    """The figure at every point of the grid; displayed as ``MIME_TYPE`` (the website's
    slider) with a plain-text summary for any other front end."""

    draw_name: str
    controls: list[Control]
    frames: list[dict] = field(default_factory=list)

    def payload(self) -> dict:
        return {
            "version": 1,
            "draw": self.draw_name,
            "controls": [control.as_dict() for control in self.controls],
            "frames": self.frames,
        }

    def __repr__(self) -> str:
        varying = [c.name for c in self.controls if c.varies]
        return f"explorer {self.draw_name}: {len(self.frames)} frames over {', '.join(varying)}"


class _Payload:
    """What is glued: the frames as ``MIME_TYPE`` (JSON)."""

    def __init__(self, frames: Frames):
        self.frames = frames

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {MIME_TYPE: self.frames.payload(), "text/plain": repr(self.frames)}


_published: list[str] = []


def publish(frames: Frames) -> str | None:
    """Glue the frames for the book's build (MyST-NB's glue; nothing where it is missing) under
    ``GLUE_PREFIX`` and the explorer's number in this kernel (0, 1, ... in the order the
    explorers ran); return the key. The build pairs them with the cells that call ``explorer``
    in the same order: a number, unlike the cell's execution count, is the same whether the
    notebook was executed by the build or under nbval (which runs cells without history)."""
    try:
        from IPython import get_ipython
        from myst_nb import glue
    except ImportError:
        return None
    if get_ipython() is None:
        return None
    key = f"{GLUE_PREFIX}{len(_published)}"
    _published.append(key)
    glue(key, _Payload(frames), display=False)
    return key


def points(controls: list[Control]) -> list[dict[str, Any]]:
    """Every combination of the varying controls' values (the first control slowest), the held
    controls at their initial values: the frames' order, as the slider's script indexes them."""
    grids = [c.values if c.varies else [c.initial] for c in controls]
    return [
        {c.name: value for c, value in zip(controls, combo, strict=True)}
        for combo in itertools.product(*grids)
    ]


def precompute(
    draw: Callable[..., None], figsize: tuple[float, float], widgets: dict[str, Any]
) -> Frames:
    """Draw the figure at every point of the grid: a PNG and a description per frame."""
    controls = grid_of(widgets)
    result = Frames(getattr(draw, "__name__", "draw"), controls)
    for values in points(controls):
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        try:
            draw(ax, **values)
            description = describe_axes(ax)
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=FRAME_DPI)
        finally:
            plt.close(fig)
        result.frames.append(
            {
                "values": [_plain(values[c.name]) for c in controls],
                "png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                "description": description,
            }
        )
    return result


def format_value(value) -> str:
    """A control's value as the slider shows it: ``1.5``, ``0.25``, ``-4``, ``tanh``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:g}"


def _plain(value):
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)


# --- what a frame shows, in words ----------------------------------------------------------------
#: Mathtext commands as the characters a screen reader reads out ("partial differential").
_SYMBOLS = {
    "partial": "\u2202",
    "ell": "\u2113",
    "rho": "\u03c1",
    "lambda": "\u03bb",
    "sigma": "\u03c3",
    "gamma": "\u03b3",
    "eta": "\u03b7",
    "alpha": "\u03b1",
    "theta": "\u03b8",
    "tanh": "tanh",
    "log": "log",
}


def _words(text: str) -> str:
    r"""Matplotlib text as words: mathtext's ``$\rho^k$`` -> ``ρ^k``."""
    text = re.sub(r"\\(mathrm|mathit|mathbf|operatorname)\{([^}]*)\}", r"\2", text)
    text = text.replace("$", "").replace("\\|", "|")
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _SYMBOLS.get(m[1], m[1]), text)
    return re.sub(r"[{}]", "", text).strip()


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
        return f"{value:.1e}"
    return f"{value:.3g}"


def describe_axes(ax: Axes) -> str:
    """One sentence on what the axes show: the title, the axes (and log scales), and each
    labelled line with its first and last point (x, y), e.g. "gradient norm ratio (log scale)
    against distance k (steps); geometric mean from (0, 1) to (49, 3.2e-05)"."""
    ylabel, xlabel = _words(ax.get_ylabel()) or "y", _words(ax.get_xlabel()) or "x"
    if ax.get_yscale() == "log":
        ylabel += " (log scale)"
    if ax.get_xscale() == "log":
        xlabel += " (log scale)"
    parts = [f"{ylabel} against {xlabel}"]
    title = _words(ax.get_title())
    if title:
        parts.insert(0, title)
    lines = []
    for line in ax.get_lines():
        name = line.get_label()
        if not name or name.startswith("_"):
            continue
        xs, ys = line.get_xdata(), line.get_ydata()
        if len(xs) == 0:
            continue
        lines.append(
            f"{_words(name)} from ({_number(float(xs[0]))}, {_number(float(ys[0]))}) "
            f"to ({_number(float(xs[-1]))}, {_number(float(ys[-1]))})"
        )
    return "; ".join([": ".join(parts[:2]) if title else parts[0], *lines])
