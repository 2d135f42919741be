"""Repository-wide pytest plumbing: how long each chapter takes under nbval.

``pytest chapters --nbval-lax`` runs every chapter cell by cell. At the end of the run this
prints a table with each chapter's execution time (the sum of its cells' run times), its kernel
start-up time and its slowest cell, so CI's log shows the chapters' budgets at a glance (the
budget is 60 s per chapter on a 2-core CPU). It reports and never fails a run.

Each chapter that runs without an error under nbval is also stored, with the outputs nbval
received, in the book's execution cache (``_build/.jupyter_cache``, the cache that
``jupyter-book build`` reads in ``execute_notebooks: cache`` mode). The site test's build then
renders the chapters from the cache instead of executing every chapter a second time. The cache
matches a notebook by its code and cell metadata, so a chapter that changed since is executed
again by the build, as it would be without this.

(This file also puts the repository root on ``sys.path``, so tests can import ``tools``.)
"""

from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import pytest

#: Chapter budget from the chapter checklist; cells beyond it are flagged in the table.
CHAPTER_BUDGET_S = 60.0

_cells: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
_startup: dict[str, float] = defaultdict(float)

#: Where the table is also written, for scripts/test.sh to print last.
TIME_TABLE = Path(__file__).parent / "test-artifacts" / "chapter-times.txt"

#: The book's execution cache (jupyter-book's default place for it).
EXECUTION_CACHE = Path(__file__).parent / "_build" / ".jupyter_cache"

#: Per notebook file: its nbval file node and, per code cell (by position), the outputs nbval got
#: and whether the cell passed.
_executed: dict[str, dict] = {}


def pytest_runtest_logreport(report):
    notebook = report.nodeid.split("::", 1)[0]
    if not notebook.endswith(".ipynb"):
        return
    name = Path(notebook).name
    if report.when == "setup":
        _startup[name] += report.duration  # nbval starts the kernel in the first cell's setup
    elif report.when == "call":
        cell = report.nodeid.split("::", 1)[1] if "::" in report.nodeid else "?"
        _cells[name].append((cell, report.duration, report.outcome))


def pytest_terminal_summary(terminalreporter, config):
    if not _cells or hasattr(config, "workerinput"):
        return  # nothing ran, or this is a pytest-xdist worker (the controller has every report)
    lines = chapter_time_table()
    terminalreporter.section("chapter execution time (nbval: sum of cell run times)")
    for line in lines:
        terminalreporter.write_line(line)
    # scripts/test.sh prints the table again at the very end of the run
    TIME_TABLE.parent.mkdir(parents=True, exist_ok=True)
    TIME_TABLE.write_text(
        "chapter execution time (nbval: sum of cell run times)\n" + "\n".join(lines) + "\n"
    )


def chapter_time_table() -> list[str]:
    """One line per chapter: cells, run time, kernel start-up, slowest cell, budget notes."""
    header = f"{'chapter':<40} {'cells':>5} {'run (s)':>8} {'kernel (s)':>10} {'slowest cell':>22}"
    lines = [header, "-" * len(header)]
    total = 0.0
    for name in sorted(_cells):
        cells = _cells[name]
        run = sum(duration for _, duration, _ in cells)
        total += run
        slow_cell, slow_duration, _ = max(cells, key=lambda cell: cell[1])
        failed = sum(outcome == "failed" for _, _, outcome in cells)
        notes = []
        if failed:
            notes.append(f"{failed} failed")
        if run > CHAPTER_BUDGET_S:
            notes.append(f"over the {CHAPTER_BUDGET_S:.0f} s budget")
        lines.append(
            f"{name:<40} {len(cells):>5} {run:>8.1f} {_startup[name]:>10.1f} "
            f"{slow_cell + f' {slow_duration:.1f} s':>22}"
            + (f"  ({', '.join(notes)})" if notes else "")
        )
    lines.append("-" * len(header))
    lines.append(f"{'all chapters':<40} {sum(map(len, _cells.values())):>5} {total:>8.1f}")
    return lines


# --- the executed chapters go to the book's execution cache --------------------------------------
def _is_nbval_cell(item) -> bool:
    return hasattr(item, "test_outputs") and hasattr(item, "cell") and hasattr(item.parent, "nb")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    record = _executed.setdefault(str(item.parent.path), {"file": item.parent, "cells": {}})
    position = next(i for i, cell in enumerate(item.parent.nb.cells) if cell is item.cell)
    record["cells"][position] = (item.test_outputs, report.passed, report.duration)


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell, cache the executed notebook if every code cell passed."""
    if not _is_nbval_cell(item):
        return
    if nextitem is not None and getattr(nextitem, "parent", None) is item.parent:
        return
    record = _executed.pop(str(item.parent.path), None)
    if record is not None:
        _cache_executed_notebook(record)


def _cache_executed_notebook(record: dict) -> None:
    notebook = copy.deepcopy(record["file"].nb)
    cells = record["cells"]
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    if any(i not in cells or not cells[i][1] or cells[i][0] is None for i in code):
        return  # a cell failed, was skipped or did not run: the build executes this one itself
    for count, i in enumerate(code, start=1):
        outputs, _, _ = cells[i]
        notebook.cells[i].outputs = copy.deepcopy(outputs)
        notebook.cells[i].execution_count = count
        for output in notebook.cells[i].outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    seconds = sum(duration for _, _, duration in cells.values())

    from filelock import FileLock
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    EXECUTION_CACHE.parent.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers run chapters side by side: one writer at a time
    with FileLock(str(EXECUTION_CACHE) + ".lock"):
        get_cache(str(EXECUTION_CACHE)).cache_notebook_bundle(
            CacheBundleIn(notebook, str(record["file"].path), data={"execution_seconds": seconds}),
            check_validity=False,
            overwrite=True,
        )
