"""Create or rewrite a chapter notebook from a list of cells, outputs stripped.

Usage from Python (authors' helper, not part of rnnlib):

    from tools.new_chapter import write_chapter, SETUP_CELL
    write_chapter("chapters/02_proof.ipynb", [("md", "# Title ..."), ("code", SETUP_CELL), ...])
"""

from __future__ import annotations

import nbformat

SETUP_CELL = """\
# Setup, the same in every chapter: install rnnlib if missing (Colab), seed, pick the device.
import importlib
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("rnnlib") is None:
    source = os.environ.get(
        "RNNLIB_PIP_SOURCE",
        "git+https://github.com/getting-rnns-to-work/getting-rnns-to-work",
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", source], check=True
    )
    importlib.invalidate_caches()

import rnnlib

device = rnnlib.setup(seed=0)"""


def write_chapter(path: str, cells: list[tuple]) -> None:
    """Write ``cells`` as a notebook with no outputs.

    Each cell is ``(kind, source)`` or ``(kind, source, tags)`` with kind ``"md"`` or ``"code"``
    and tags a list such as ``["remove-output"]`` (the explorer cell) or ``["hide-input"]``.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for kind, source, *tags in cells:
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source.strip("\n"))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(source.strip("\n"))
        else:
            raise ValueError(f"cell kind must be 'md' or 'code', got {kind!r}")
        if tags and tags[0]:
            cell.metadata["tags"] = list(tags[0])
        notebook.cells.append(cell)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:03d}"  # stable ids: regenerating a chapter gives small diffs
    nbformat.write(notebook, path)
