"""The book's Sphinx extensions (``_extensions/``), where they read something the library writes:
the setup cell's line that the status page parses, and the MathJax package the site serves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import rnnlib

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_extensions"))

import execution_status  # noqa: E402
import offline_mathjax  # noqa: E402


def test_the_status_page_reads_the_line_that_rnnlib_setup_prints(capsys, monkeypatch):
    monkeypatch.setenv("RNNLIB_CPU_THREADS", "2")
    threads = rnnlib.device.torch.get_num_threads()
    try:
        rnnlib.setup(seed=0, device="cpu")
    finally:
        rnnlib.device.torch.set_num_threads(threads)
    line = capsys.readouterr().out
    match = execution_status.SETUP_LINE.search(line)
    assert match, f"the status page cannot parse rnnlib.setup's line {line!r}"
    assert execution_status.describe_device(match) == "CPU, 2 threads"
    assert match["torch"] == rnnlib.device.torch.__version__


@pytest.mark.parametrize(
    ("line", "device"),
    [
        ("rnnlib: device = cpu (cpu), 1 CPU thread(s), torch 2.5.1, seed = 0", "CPU, 1 thread"),
        ("rnnlib: device = cuda (NVIDIA H200), torch 2.5.1+cu124, seed = 3", "GPU: NVIDIA H200"),
        ("rnnlib: device = mps (mps), torch 2.5.1, seed = 0", "Apple MPS"),
    ],
)
def test_devices_are_described_for_readers(line, device):
    assert execution_status.describe_device(execution_status.SETUP_LINE.search(line)) == device


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "not measured"), (4.4, "about 4 s"), (61.1, "about 61 s"), (150, "about 2.5 min")],
)
def test_run_times_are_rounded_for_readers(seconds, text):
    assert execution_status.describe_run_time(seconds) == text


def test_mathjax_path_names_a_file_of_the_npm_package():
    path = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["mathjax_path"]
    assert path.startswith(offline_mathjax.PREFIX), "MathJax must come from the site's _static"
    if not offline_mathjax.PACKAGE.exists():
        pytest.skip("MathJax is not fetched yet (bash scripts/mathjax.sh)")
    assert (offline_mathjax.PACKAGE / "es5" / path.removeprefix(offline_mathjax.PREFIX)).is_file()


# --- explorers: the grid, the frames and the slider's HTML ---------------------------------------
import html.parser  # noqa: E402
import json  # noqa: E402

import explorer_slider  # noqa: E402
import lecture_map  # noqa: E402
import matplotlib  # noqa: E402

from rnnlib import widgets  # noqa: E402

matplotlib.use("Agg")


def draw_line(ax, spectral_radius=1.0, nonlinearity="tanh", length=10):
    ks = list(range(length))
    ax.plot(ks, [spectral_radius**k for k in ks], label=r"$\rho^k$ " + nonlinearity)
    ax.set_yscale("log")
    ax.set_xlabel("distance $k$ (steps)")
    ax.set_ylabel("gradient ratio")
    ax.legend()


def test_slider_values_are_thinned_to_round_multiples_with_both_ends():
    values = widgets.slider_values(0.25, 2.0, 0.05)
    assert len(values) == 36 and values[0] == 0.25 and values[-1] == 2.0
    kept = widgets.thin(values, 0.05, widgets.MOST_VALUES, anchor=1.1)
    assert len(kept) <= widgets.MOST_VALUES
    assert kept[0] == 0.25 and kept[-1] == 2.0 and 1.0 in kept and 1.5 in kept
    assert widgets.thin([1, 2, 3], 1, 25) == [1, 2, 3]
    rates = widgets.slider_values(0.02, 0.3, 0.02)
    kept = widgets.thin(rates, 0.02, 8, anchor=0.1)
    assert kept == [0.02, 0.06, 0.1, 0.14, 0.18, 0.22, 0.26, 0.3], "0.1 (the initial) kept"


def test_grid_varies_later_controls_only_while_the_frames_stay_few():
    controls = widgets.grid_of(
        widgets._widgets(
            draw_line,
            {
                "spectral_radius": (0.5, 2.0, 0.05),
                "nonlinearity": ["tanh", "relu", "sigmoid"],
                "length": (10, 100, 10),
            },
        )
    )
    radius, nonlinearity, length = controls
    assert radius.varies and nonlinearity.varies and not length.varies
    assert radius.initial == 1.0, "the draw function's default is the first frame"
    assert len(radius.values) * len(nonlinearity.values) <= widgets.MOST_FRAMES
    points = widgets.points(controls)
    assert len(points) == len(radius.values) * len(nonlinearity.values)
    assert all(p["length"] == length.initial for p in points)


def test_explorer_is_live_in_jupyter_and_precomputes_frames_for_the_build(monkeypatch):
    import ipywidgets

    monkeypatch.delenv(widgets.FRAMES_VARIABLE, raising=False)
    live = widgets.explorer(draw_line, spectral_radius=(0.5, 1.5, 0.5))
    assert isinstance(live, ipywidgets.interactive)
    live.close()

    monkeypatch.setenv(widgets.FRAMES_VARIABLE, "1")
    frames = widgets.explorer(draw_line, spectral_radius=(0.5, 1.5, 0.5), nonlinearity=["a", "b"])
    assert isinstance(frames, widgets.Frames) and len(frames.frames) == 3 * 2
    pngs = {frame["png"] for frame in frames.frames}
    assert len(pngs) == 6, "every frame is a different figure"
    first = frames.frames[0]
    assert first["values"] == [0.5, "a"]
    assert "gradient ratio (log scale) against distance k (steps)" in first["description"]
    assert "\u03c1^k a from (0, 1) to (9, 2.0e-03)" in first["description"]
    assert widgets._words(r"$\log_{10}\|\partial J/\partial h^{(T-\ell)}\|$") == (
        "log_10|\u2202 J/\u2202 h^(T-\u2113)|"
    )
    with pytest.raises(ValueError, match="at least one control"):
        widgets.explorer(draw_line)


def test_slider_html_shows_the_initial_frame_and_labels_every_control():
    monkey_payload = widgets.Frames(
        "draw_line",
        widgets.grid_of(
            widgets._widgets(
                draw_line, {"spectral_radius": (0.5, 1.5, 0.5), "nonlinearity": ["a", "b"]}
            )
        ),
    )
    for point in widgets.points(monkey_payload.controls):
        values = [point[c.name] for c in monkey_payload.controls]
        monkey_payload.frames.append({"values": values, "png": "", "description": f"{values}"})
    payload = json.loads(json.dumps(monkey_payload.payload()))
    urls = [f"../_images/frame{i}.png" for i in range(len(payload["frames"]))]
    text = explorer_slider.slider_html(payload, urls, "explorer-3-0", "A plot.")

    class Tags(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(text)
    tags = parser.tags
    image = next(attrs for tag, attrs in tags if tag == "img")
    # the initial frame: spectral radius 1.0 (the default), nonlinearity "a" -> index 1 * 2 + 0
    assert image["src"] == urls[2]
    assert image["alt"].startswith("A plot. At spectral radius = 1, nonlinearity = a:")
    slider = next(attrs for tag, attrs in tags if tag == "input")
    assert slider["type"] == "range" and slider["max"] == "2" and slider["value"] == "1"
    labels = [attrs["for"] for tag, attrs in tags if tag == "label"]
    controls = [attrs["id"] for tag, attrs in tags if tag in ("input", "select")]
    assert labels == controls, "every control has its label"
    data = json.loads(next(attrs for tag, attrs in tags if tag == "div")["data-frames"])
    assert [f["src"] for f in data["frames"]] == urls
    assert "http" not in text, "nothing outside the site"


def test_lecture_headings_match_without_markup():
    assert lecture_map.normalise("Step 2: the eigenbasis of $W_h$") == lecture_map.normalise(
        "Step 2: the eigenbasis of W_h"
    )
    assert lecture_map.LINE.match("7.1 | - | Many gated variants exist.").groups() == (
        "7.1",
        "-",
        "Many gated variants exist.",
    )
