"""The small helpers chapters use for their pages: panel titles and glued numbers."""

from __future__ import annotations

import builtins

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from rnnlib.book import glue  # noqa: E402
from rnnlib.plots import small_multiples  # noqa: E402


def test_small_multiples_titles_each_panel_with_the_format_given():
    drawn = []
    fig = small_multiples(
        lambda ax, rho: drawn.append(rho), "rho", [0.5, 1.0], title=r"$\rho = {value}$"
    )
    assert drawn == [0.5, 1.0]
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == [r"$\rho = 0.5$", r"$\rho = 1.0$"]


def test_small_multiples_default_title_names_the_control():
    fig = small_multiples(lambda ax, threshold: None, "threshold", [1.0])
    assert fig.axes[0].get_title() == "threshold = 1.0"


def test_glue_does_nothing_where_myst_nb_is_missing(monkeypatch):
    real_import = builtins.__import__

    def no_myst_nb(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError("no myst_nb here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst_nb)
    assert glue("ratio", 0.75) is None


def test_glue_hands_the_value_to_myst_nb_under_its_name(monkeypatch):
    import myst_nb.ext.glue

    shown = []
    monkeypatch.setattr(
        myst_nb.ext.glue, "ipy_display", lambda data, **kwargs: shown.append((data, kwargs))
    )
    glue("ratio", 0.75)
    ((data, kwargs),) = shown
    assert kwargs["metadata"]["scrapbook"]["name"] == "ratio"
    assert any(value == "0.75" for value in data.values()), data


@pytest.mark.parametrize(
    "scalar", [np.float64(0.5), np.float32(0.5), torch.tensor(0.5), np.array(0.5)]
)
def test_glue_hands_a_numpy_or_torch_scalar_over_as_a_plain_number(monkeypatch, scalar):
    # the page formats it with {glue:text}`name:.2f`, which needs "0.5", not "np.float64(0.5)"
    import myst_nb.ext.glue

    shown = []
    monkeypatch.setattr(
        myst_nb.ext.glue, "ipy_display", lambda data, **kwargs: shown.append((data, kwargs))
    )
    glue("half", scalar)
    ((data, _),) = shown
    assert any(value == "0.5" for value in data.values()), data


def test_draw_lstm_cell_labels_the_belt_the_gates_and_their_roles():
    import matplotlib.pyplot as plt

    from rnnlib.plots import PALETTE, draw_lstm_cell

    fig, ax = plt.subplots()
    assert draw_lstm_cell(ax) is ax
    texts = {text.get_text(): text for text in ax.texts}
    for symbol in (r"$c^{(t-1)}$", r"$c^{(t)}$", r"$h^{(t-1)}$", r"$x^{(t)}$", r"$h^{(t)}$"):
        assert symbol in texts, symbol
    for gate in (r"$f^{(t)}$", r"$i^{(t)}$", r"$\tilde c^{(t)}$", r"$o^{(t)}$"):
        assert gate in texts, gate
    # erase, write and read in the colour of the gate that does it
    assert texts["erase"].get_color() == texts[r"$f^{(t)}$"].get_color() == PALETTE[1]
    assert texts["write"].get_color() == texts[r"$i^{(t)}$"].get_color() == PALETTE[2]
    assert texts["read"].get_color() == texts[r"$o^{(t)}$"].get_color() == PALETTE[0]
    assert "cell state: the conveyor belt" in texts
    assert not ax.axison
    plt.close(fig)


def test_draw_lstm_cell_makes_its_own_figure_without_axes():
    import matplotlib.pyplot as plt

    from rnnlib.plots import draw_lstm_cell

    ax = draw_lstm_cell()
    assert ax.figure is not None and len(ax.patches) >= 10
    plt.close(ax.figure)
