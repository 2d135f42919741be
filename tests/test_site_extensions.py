"""The book's Sphinx extensions (``_extensions/``), where they read something the library writes:
the setup cell's line that the status page parses, and the MathJax package the site serves."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import rnnlib

ROOT = Path(__file__).resolve().parents[1]
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
