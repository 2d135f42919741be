"""tools/link_terms.py links the chapters to the glossary and the API reference; it is run on
copies here, never on the chapters themselves (their authors run it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from tools import link_terms, rnnlib_names
from tools.new_chapter import write_chapter

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def markdown_of(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def chapter(tmp_path: Path, *markdown: str, code: str = "x = 1") -> Path:
    path = tmp_path / "01_test.ipynb"
    write_chapter(str(path), [("md", text) for text in markdown] + [("code", code)])
    return path


def test_terms_are_the_glossarys_terms():
    assert set(link_terms.TERMS) == set(link_terms.glossary_terms())


def test_first_use_of_each_term_links_to_the_glossary_and_later_uses_stay_plain(tmp_path):
    path = chapter(
        tmp_path,
        "# 1. Vanishing gradients\n\nGradients vanish: vanishing gradients are the topic.",
        "More vanishing gradients, and the spectral radius $\\rho$.",
    )
    assert link_terms.main(["--check", str(path)]) == 1
    assert link_terms.main([str(path)]) == 0
    first, second = markdown_of(path)
    assert first.startswith("# 1. Vanishing gradients\n"), "a heading must stay as it is"
    assert "{term}`vanishing gradients <vanishing gradient>` are the topic" in first
    assert second.startswith("More vanishing gradients, and the {term}`spectral radius` $\\rho$")
    assert link_terms.main(["--check", str(path)]) == 0


def test_what_is_not_prose_is_left_alone(tmp_path):
    protected = [
        "$$\nJ \\text{ vanishing gradient}\n$$",
        "`the cell state` in code",
        "math: $\\text{cell state}$ inline",
        "[the cell state](https://example.org) a link",
        "| a table with the cell state |\n| --- |",
        "```python\n# the cell state in a code block\n```",
        "```{admonition} Solution\n:class: dropdown\nThe cell state in a solution.\n```",
        "## The cell state (a heading)",
        "{cite}`cell state` a role",
    ]
    path = chapter(tmp_path, *protected)
    link_terms.main([str(path)])
    assert markdown_of(path) == protected
    assert link_terms.main(["--check", str(path)]) == 0


def test_rnnlib_names_become_roles_that_the_api_reference_resolves(tmp_path):
    path = chapter(
        tmp_path,
        "Use `rnnlib.LSTMCell`, `rnnlib.seeds()`, `rnnlib.train` and `rnnlib`; "
        "`rnnlib.no_such_name` and `rnnlib/cells.py` stay code.",
    )
    assert link_terms.main(["--check", str(path)]) == 1
    link_terms.main([str(path)])
    (text,) = markdown_of(path)
    assert text == (
        "Use {py:class}`rnnlib.LSTMCell`, {py:func}`rnnlib.seeds()`, {py:mod}`rnnlib.train` "
        "and {py:mod}`rnnlib`; `rnnlib.no_such_name` and `rnnlib/cells.py` stay code."
    )
    assert link_terms.main(["--check", str(path)]) == 0


def test_linking_is_idempotent_and_touches_only_markdown(tmp_path):
    copies = []
    for path in CHAPTERS:
        shutil.copy(path, tmp_path / path.name)
        copies.append(tmp_path / path.name)
    assert link_terms.main([str(path) for path in copies]) == 0
    once = [path.read_bytes() for path in copies]
    assert link_terms.main([str(path) for path in copies]) == 0
    assert [path.read_bytes() for path in copies] == once, "a second run changed a chapter"
    assert link_terms.main(["--check", *map(str, copies)]) == 0
    for original, linked in zip(CHAPTERS, copies, strict=True):
        before = nbformat.read(original, as_version=4).cells
        after = nbformat.read(linked, as_version=4).cells
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            assert old.cell_type == new.cell_type and old.metadata == new.metadata
            if new.cell_type == "code":
                assert new.source == old.source and new.outputs == []


def test_the_chapters_link_their_terms_and_rnnlib_names():
    """The website's chapters link the glossary and the API reference; after editing a chapter,
    run `python -m tools.link_terms chapters/*.ipynb`."""
    assert link_terms.main(["--check", *map(str, CHAPTERS)]) == 0


@pytest.mark.parametrize(
    ("written", "role", "target"),
    [
        ("rnnlib", "mod", "rnnlib"),
        ("rnnlib.LSTMCell", "class", "rnnlib.cells.LSTMCell"),
        ("rnnlib.seeds", "func", "rnnlib.device.seeds"),
        ("rnnlib.train.fit", "func", "rnnlib.train.fit"),
        ("rnnlib.cells.NONLINEARITIES", "data", "rnnlib.nonlinearities.NONLINEARITIES"),
        ("rnnlib.train.NonFiniteLossError", "exc", "rnnlib.history.NonFiniteLossError"),
        ("rnnlib.train.fit_seeds", "func", "rnnlib.ensembles.fit_seeds"),
        ("rnnlib.LSTMCell.step", "meth", "rnnlib.cells.LSTMCell.step"),
        # inherited: documented once, on the base that defines it
        ("rnnlib.LSTMCell.forward", "meth", "rnnlib.recurrent_cell.RecurrentCell.forward"),
        ("rnnlib.tasks.MovieSentiment.decode", "meth", "rnnlib.tasks.WordTask.decode"),
    ],
)
def test_names_resolve_to_where_the_api_documents_them(written, role, target):
    assert rnnlib_names.resolve(written) == rnnlib_names.Target(role, target)


def test_private_and_missing_names_do_not_resolve():
    assert rnnlib_names.resolve("rnnlib.no_such_name") is None
    assert rnnlib_names.resolve("rnnlib.RecurrentCell._copy_rows") is None


def test_every_module_of_the_package_is_in_the_api():
    modules = (ROOT / "rnnlib").glob("[!_]*.py")
    packages = (ROOT / "rnnlib").glob("[!_]*/__init__.py")
    found = {path.stem for path in modules} | {path.parent.name for path in packages}
    assert {name.removeprefix("rnnlib.") for name in rnnlib_names.modules()} == found


def test_chapter_uses_count_imports_and_attribute_chains(tmp_path):
    path = tmp_path / "01_test.ipynb"
    write_chapter(
        str(path),
        [
            ("md", "We train with `rnnlib.train.fit`."),
            ("code", "import rnnlib\nfrom rnnlib.tasks import (\n    AddingProblem,\n)"),
            ("code", "%matplotlib inline\ncell = rnnlib.LSTMCell(1, 2)"),
        ],
    )
    names = [target.name for target in rnnlib_names.names_in_notebook(path)]
    assert names == ["rnnlib.train.fit", "rnnlib.tasks.AddingProblem", "rnnlib.cells.LSTMCell"]
