"""rnnlib reads like the book: small modules, short functions, an example in every public
docstring, and the shape of every tensor a line reshapes written at the end of that line.

These are the style guide's rules (shared/STYLE.md) as checks over rnnlib's source.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import rnnlib

PACKAGE = Path(rnnlib.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))

#: The fused kernels' forward and backward mirror the equations line by line: their length is
#: the equations' (see rnnlib/fused.py).
LONG_BY_DESIGN = {"LSTMSequence.forward", "LSTMSequence.backward", "GRUSequence.forward",
                  "GRUSequence.backward"}  # fmt: skip

#: Calls that change a tensor's shape; a line that makes one ends with ``# (shape)``.
SHAPE_CALL = re.compile(r"\.(view|chunk|stack|unbind|transpose|cat|reshape)\(|torch\.(stack|cat)\(")


def module_names() -> list[str]:
    names = ["rnnlib"]
    for info in pkgutil.walk_packages(rnnlib.__path__, "rnnlib."):
        names.append(info.name)
    return names


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_no_module_is_over_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500


def code_lines(node: ast.AST, source_lines: list[str]) -> int:
    """Lines of a function that hold code: no blank lines, comments or docstring."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return 0
    lines = source_lines[body[0].lineno - 1 : node.end_lineno]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def functions(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield f"{prefix}{node.name}", node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_no_function_is_over_50_code_lines(path):
    source = path.read_text()
    lines = source.splitlines()
    long = {
        name: code_lines(node, lines)
        for name, node in functions(ast.parse(source))
        if name not in LONG_BY_DESIGN and code_lines(node, lines) > 50
    }
    assert long == {}


@pytest.mark.parametrize("path", SOURCES, ids=relative)
def test_every_shape_changing_line_ends_with_its_shape(path):
    bare = [
        f"{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SHAPE_CALL.search(line.split("#")[0])
        and not line.lstrip().startswith((">>>", "..."))
        and not re.search(r"#.*\(", line)
    ]
    assert bare == []


def public_objects():
    """Every class and function that a module of rnnlib lists in ``__all__`` and defines."""
    for module_name in module_names():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            defined_here = getattr(obj, "__module__", None) == module_name
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and defined_here:
                yield f"{module_name}.{name}", obj


PUBLIC = dict(public_objects())


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_class_and_function_has_an_example(name):
    examples = doctest.DocTestParser().get_examples(inspect.getdoc(PUBLIC[name]) or "")
    assert examples, f"{name}'s docstring has no >>> example"


@pytest.mark.parametrize("name", module_names())
def test_every_module_says_what_is_not_in_it(name):
    docstring = importlib.import_module(name).__doc__ or ""
    assert re.search(r"Not here|not here", docstring), f"{name}'s docstring lacks 'Not here'"
