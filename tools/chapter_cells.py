"""Edit a chapter as plain files: split a notebook into one file per cell, and join them back.

Authors' helper, not part of rnnlib. Notebook JSON is hard to edit and to review; a folder of
cells is not::

    python -m tools.chapter_cells split chapters/05_lstm.ipynb /tmp/ch05
    # edit /tmp/ch05/012_code.py, add /tmp/ch05/012a_md.md, delete a file, ...
    python -m tools.chapter_cells join /tmp/ch05 chapters/05_lstm.ipynb

File names are ``KEY_KIND[.TAG+TAG].EXT``: cells are joined in the sorted order of ``KEY``;
``KIND`` is ``code`` (``.py``) or ``md`` (``.md``); tags such as ``hide-input`` or
``remove-output`` ride in the name. ``join`` writes through :func:`tools.new_chapter.write_chapter`,
so outputs are stripped and cell ids renumbered.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from tools.new_chapter import write_chapter

KINDS = {"code": ("code", ".py"), "markdown": ("md", ".md")}


def split(notebook: str, folder: str) -> None:
    """Write each cell of ``notebook`` to its own file in ``folder`` (which must be empty)."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise SystemExit(f"{folder} is not empty")
    cells = nbformat.read(notebook, as_version=4).cells
    for index, cell in enumerate(cells):
        kind, extension = KINDS[cell.cell_type]
        tags = cell.metadata.get("tags", [])
        name = f"{index:03d}_{kind}" + (f".{'+'.join(tags)}" if tags else "") + extension
        (target / name).write_text(cell.source + "\n")


def join(folder: str, notebook: str) -> None:
    """Write the cells of ``folder``, in the sorted order of their names, as ``notebook``."""
    cells = []
    for path in sorted(Path(folder).iterdir(), key=lambda p: p.name.split("_", 1)[0]):
        key_kind, *tags = path.name.removesuffix(path.suffix).split(".", 1)
        kind = key_kind.split("_", 1)[1]
        if kind not in ("code", "md"):
            raise SystemExit(f"{path.name}: expected KEY_code.py or KEY_md.md")
        cells.append((kind, path.read_text(), tags[0].split("+") if tags else None))
    write_chapter(notebook, cells)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("split", "join"):
        raise SystemExit(__doc__)
    {"split": split, "join": join}[sys.argv[1]](sys.argv[2], sys.argv[3])
