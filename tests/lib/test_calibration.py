"""The book's claims are calibrated, and the calibration is current.

Every chapter states its checks through ``rnnlib.claims`` (``claim`` for statistics over random
draws, ``exact`` for identities), never with a bare ``assert``. Each statistical claim has a
record in ``calibration/chNN.json`` (``scripts/calibrate.py``), made from the chapter's current
code (its hash), with enough draws, no failure in any calibration run and an estimated failure
probability per run within the budget (1e-4).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from rnnlib import calibration

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
MIN_DRAWS = 40


def code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def claim_calls(notebook: Path) -> list[tuple[str, ast.Call]]:
    """Every ``claim(...)``/``exact(...)`` call of a chapter: (function name, call)."""
    calls = []
    for source in code_cells(notebook):
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in ("claim", "exact"):
                calls.append((name, node))
    return calls


def claim_name(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def chapter_id(notebook: Path) -> str:
    return "ch" + notebook.name[:2]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_checks_go_through_claims_not_bare_asserts(notebook):
    bare = [
        ast.unparse(node)[:80]
        for source in code_cells(notebook)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assert)
    ]
    assert not bare, f"{notebook.name}: bare asserts (use rnnlib.claims): {bare}"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_claim_names_are_literal_unique_and_of_their_chapter(notebook):
    names = []
    for function, call in claim_calls(notebook):
        name = claim_name(call)
        assert name is not None, f"{notebook.name}: {function}() needs a literal name first"
        assert name.startswith(chapter_id(notebook) + "."), f"{name} is not {notebook.name}'s"
        names.append(name)
    assert len(names) == len(set(names)), f"{notebook.name}: a claim name is used twice"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_every_statistical_claim_is_calibrated_on_the_current_code(notebook):
    statistical = [claim_name(c) for f, c in claim_calls(notebook) if f == "claim"]
    every_name = [claim_name(c) for _, c in claim_calls(notebook)]
    if not statistical:
        return
    stored = calibration.load(chapter_id(notebook), ROOT / "calibration")
    assert stored is not None, f"{notebook.name} makes statistical claims but has no calibration"
    assert stored["code_hash"] == calibration.code_hash(notebook), (
        f"{notebook.name}'s code changed since its calibration: run "
        f"python scripts/calibrate.py chapters/{notebook.name}"
    )
    runs = len(stored["runs"])
    assert not [r for r in stored["runs"] if r["error"]], "a calibration run stopped with an error"
    for name in every_name:
        assert name in stored["claims"], f"{name} has no calibration record"
        entry = stored["claims"][name]
        assert entry["runs"] == runs, f"{name} was made in {entry['runs']} of {runs} runs"
        assert entry["observed_failures"] == 0, f"{name} failed in a calibration run"
    for name in statistical:
        entry = stored["claims"][name]
        assert entry["n"] >= MIN_DRAWS, f"{name}: {entry['n']} draws < {MIN_DRAWS}"
        estimate = calibration.failure_probability_of(entry, entry["values"])
        assert estimate <= calibration.BUDGET, f"{name}: estimated failure rate {estimate:.1e}"
