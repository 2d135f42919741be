"""Chapter 1 runs in a Colab-like environment, where ``rnnlib`` is not installed.

A fresh virtual environment gets only what Colab ships (torch, numpy, matplotlib, ipywidgets,
tqdm, and the Jupyter kernel machinery: ipykernel, nbclient). Chapter 1 is copied to a temporary
folder outside the repository and executed there on that environment's kernel, with the setup
cell's pip source (``RNNLIB_PIP_SOURCE``) pointed at a copy of this checkout. The test passes only
if rnnlib was missing before, the setup cell installed it (``pip show``), the kernel imported it
from the fresh environment, and every cell ran without error.

Nothing is cached between runs: the environment and the copies live in pytest's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import nbformat
import pytest
import torch

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: What Colab has preinstalled that the chapters use (and Jupyter needs to run a notebook).
#: torch is pinned to the build installed here, so pip takes it from the local wheel.
COLAB_PACKAGES = [
    f"torch=={torch.__version__}",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "tqdm",
    "ipykernel",
    "nbclient",
]
#: Appended to the copy of the chapter: where did the kernel find Python and rnnlib?
PROBE_CELL = "import json, sys, rnnlib\nprint(json.dumps([sys.executable, rnnlib.__file__]))"
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(notebook, sys.argv[1])
"""


def clean_environment(venv_dir: Path) -> dict[str, str]:
    """The environment of a Colab session: the venv first on PATH, no way back to this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv_dir)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: int = 900):
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def copy_of_checkout(destination: Path) -> Path:
    """What ``pip install git+<repository>`` would see: the package and its build files."""
    destination.mkdir()
    shutil.copytree(
        ROOT / "rnnlib", destination / "rnnlib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, destination / name)
    return destination


def test_chapter_one_installs_rnnlib_through_its_setup_cell(tmp_path):
    chapters = sorted((ROOT / "chapters").glob("01_*.ipynb"))
    assert chapters, "chapter 1 (chapters/01_*.ipynb) is missing"
    chapter = chapters[0]

    venv_dir = tmp_path / "colab-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    python = str(venv_dir / "bin" / "python")
    workdir = tmp_path / "session"  # outside the repository: `import rnnlib` cannot find it
    workdir.mkdir()
    env = clean_environment(venv_dir)

    installed = run([python, "-m", "pip", "install", "--quiet", *COLAB_PACKAGES], env, workdir)
    assert installed.returncode == 0, f"installing Colab's packages failed:\n{installed.stderr}"
    before = run([python, "-c", "import rnnlib"], env, workdir)
    assert before.returncode != 0, "rnnlib is importable in the fresh environment before the test"

    env["RNNLIB_PIP_SOURCE"] = str(copy_of_checkout(tmp_path / "checkout"))
    notebook = nbformat.read(chapter, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PROBE_CELL))
    copy = workdir / chapter.name
    nbformat.write(notebook, copy)

    executed = run([python, "-c", EXECUTE, str(copy), str(workdir)], env, workdir)
    assert executed.returncode == 0, (
        f"{chapter.name} failed in the Colab-like environment:\n{executed.stderr[-6000:]}"
    )

    shown = run([python, "-m", "pip", "show", "rnnlib"], env, workdir)
    assert shown.returncode == 0, "the setup cell ran but pip does not know rnnlib"
    assert "Editable project location" not in shown.stdout, "rnnlib was installed editable"

    result = nbformat.read(copy, as_version=4)
    probe = "".join(
        output.get("text", "")
        for output in result.cells[-1].outputs
        if output.output_type == "stream"
    )
    executable, rnnlib_file = json.loads(probe.strip().splitlines()[-1])
    assert Path(executable).is_relative_to(venv_dir), (
        f"the kernel ran {executable}, not the fresh environment's Python"
    )
    assert Path(rnnlib_file).resolve().is_relative_to(venv_dir.resolve()), (
        f"the kernel imported rnnlib from {rnnlib_file}, not from the fresh environment"
    )
    setup_output = "".join(
        output.get("text", "")
        for cell in result.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )
    assert "rnnlib: device = " in setup_output, "the setup cell did not print the device"
