"""Repository-wide pytest plumbing: how long each chapter takes under nbval.

``pytest chapters --nbval-lax`` runs every chapter cell by cell. At the end of the run this
prints a table with each chapter's execution time (the sum of its cells' run times), its kernel
start-up time and its slowest cell, so CI's log shows the chapters' budgets at a glance (the
budget is 60 s per chapter on a 2-core CPU). It reports and never fails a run.

(This file also puts the repository root on ``sys.path``, so tests can import ``tools``.)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

#: Chapter budget from the chapter checklist; cells beyond it are flagged in the table.
CHAPTER_BUDGET_S = 60.0

_cells: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
_startup: dict[str, float] = defaultdict(float)


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


def pytest_terminal_summary(terminalreporter):
    if not _cells:
        return
    write = terminalreporter.write_line
    terminalreporter.section("chapter execution time (nbval: sum of cell run times)")
    header = f"{'chapter':<40} {'cells':>5} {'run (s)':>8} {'kernel (s)':>10} {'slowest cell':>22}"
    write(header)
    write("-" * len(header))
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
        write(
            f"{name:<40} {len(cells):>5} {run:>8.1f} {_startup[name]:>10.1f} "
            f"{slow_cell + f' {slow_duration:.1f} s':>22}"
            + (f"  ({', '.join(notes)})" if notes else "")
        )
    write("-" * len(header))
    write(f"{'all chapters':<40} {sum(map(len, _cells.values())):>5} {total:>8.1f}")
