"""The chapters as files: committed clean, set up the same way, and all in the table of contents.

These checks are fast and need no kernel; running the chapters is nbval's job
(``pytest chapters --nbval-lax``) and rendering them is tests/book/test_site.py's.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

from tools.new_chapter import SETUP_CELL

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY_URL = CONFIG["repository"]["url"]
TOC_DOCNAMES = list(parse_toc_yaml(ROOT / "_toc.yml"))
CHAPTER_NAME = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")


def chapter_id(path: Path) -> str:
    return path.name


def test_there_are_chapters():
    assert CHAPTERS, "chapters/ holds no notebook"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_is_committed_without_outputs_or_execution_counts(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} carry outputs or execution counts; regenerate the "
        "chapter with tools.new_chapter.write_chapter (or clear its outputs) before committing"
    )
    assert "widgets" not in notebook.metadata, f"{path.name}: saved widget state in its metadata"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_first_code_cell_is_the_setup_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    assert code[0] == SETUP_CELL, (
        f"{path.name}: the first code cell differs from tools.new_chapter.SETUP_CELL; "
        "every chapter starts with exactly that cell"
    )


def setup_cell_pip_source() -> str:
    """The default of ``os.environ.get("RNNLIB_PIP_SOURCE", default)`` in the setup cell."""
    for node in ast.walk(ast.parse(SETUP_CELL)):
        if (
            isinstance(node, ast.Call)
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "RNNLIB_PIP_SOURCE"
        ):
            return ast.literal_eval(node.args[1])
    raise AssertionError("the setup cell does not read RNNLIB_PIP_SOURCE with a default")


def test_setup_cell_installs_from_the_books_repository():
    assert setup_cell_pip_source() == f"git+{REPOSITORY_URL}", (
        f"the setup cell's pip source {setup_cell_pip_source()!r} is not 'git+' + the "
        f"repository url of _config.yml ({REPOSITORY_URL})"
    )


def test_repository_url_is_the_same_everywhere():
    """_config.yml holds the URL; any other file that names a GitHub repository names the same."""
    files = ["README.md", "intro.md", "pyproject.toml", "tools/new_chapter.py"]
    files += [p.relative_to(ROOT).as_posix() for p in (ROOT / ".github").rglob("*.yml")]
    pattern = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
    others = {
        f"{name}: {url}"
        for name in files
        if (ROOT / name).exists()
        for url in pattern.findall((ROOT / name).read_text())
        if url.removesuffix(".git") != REPOSITORY_URL
    }
    assert not others, f"repository URLs that differ from _config.yml's {REPOSITORY_URL}: {others}"


def test_toc_lists_only_files_that_exist():
    missing = [
        name
        for name in TOC_DOCNAMES
        if not any((ROOT / f"{name}{suffix}").exists() for suffix in (".md", ".ipynb", ".rst"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_chapter_is_in_the_toc_in_numbered_order():
    listed = [name for name in TOC_DOCNAMES if name.startswith("chapters/")]
    on_disk = [f"chapters/{path.stem}" for path in CHAPTERS]
    unlisted = sorted(set(on_disk) - set(listed))
    assert not unlisted, f"chapters missing from _toc.yml: {unlisted}"
    assert listed == sorted(listed), f"_toc.yml lists the chapters out of order: {listed}"


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_file_name_is_numbered(path):
    assert CHAPTER_NAME.match(path.name), (
        f"{path.name}: chapter files are named NN_topic.ipynb (two digits, lower-case words "
        "joined by underscores), e.g. 05_lstm.ipynb"
    )


def test_chapter_numbers_are_unique():
    numbers = [path.name[:2] for path in CHAPTERS]
    duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
    assert not duplicates, f"two chapters share the numbers {duplicates}"


CHECK_CALL = re.compile(r"^(check_\w+)\((\w+)\)\s*$", re.MULTILINE)


@pytest.mark.parametrize("path", CHAPTERS, ids=chapter_id)
def test_chapter_has_an_exercise_that_checks_itself(path):
    """A stub the reader fills in (tagged raises-exception: nbval runs it and lets it raise, and
    so does the website) and a reference solution in a dropdown that nbval runs through the same
    rnnlib.exercises checker. No cell is skipped by nbval: the executed chapters feed the site."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]

    def checks(tags: set[str]) -> dict[str, str]:
        found = {}
        for cell in cells:
            if tags <= set(cell.metadata.get("tags", [])):
                found.update({name: fn for name, fn in CHECK_CALL.findall(cell.source)})
        return found

    skipped = [
        c.source.splitlines()[0] for c in cells if "nbval-skip" in c.metadata.get("tags", [])
    ]
    assert not skipped, f"{path.name}: cells that nbval skips (the site needs them run): {skipped}"
    stubs = checks({"raises-exception"})
    solutions = checks({"hide-input"})
    assert stubs, (
        f"{path.name}: no exercise stub (a code cell tagged raises-exception "
        "that calls an rnnlib.exercises checker on the reader's function)"
    )
    for checker, stub in stubs.items():
        assert checker in solutions, f"{path.name}: {checker} has a stub but no solution cell"
        assert solutions[checker] != stub, f"{path.name}: the solution must not be the stub"
        stub_cell = next(c for c in cells if f"{checker}({stub})" in c.source)
        assert "raise NotImplementedError" in stub_cell.source, (
            f"{path.name}: the stub {stub} should raise NotImplementedError"
        )
