"""rnnlib's public names, where the API reference documents them, and which chapters use them.

Authors' and build helper, not part of rnnlib. Shared by ``tools/link_terms.py`` (which links a
chapter's mentions of rnnlib to the API reference) and ``_extensions/rnnlib_api.py`` (which
writes the API reference and links each name to the chapter that introduces it).

A name is public when its module lists it in ``__all__``. Its *target* is where the API page
documents it, ``module.Name`` for the module that defines it: ``rnnlib.LSTMCell`` is documented
as ``rnnlib.cells.LSTMCell``.
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

#: The API page's order of rnnlib's modules (the lecture's order: cells first, helpers last);
#: a module that is not listed here comes after these, alphabetically, so a new one appears.
MODULE_ORDER = [
    "cells",
    "recurrent_cell",
    "nonlinearities",
    "layers",
    "wrappers",
    "fused",
    "gradients",
    "clipping",
    "tasks",
    "models",
    "train",
    "history",
    "ensembles",
    "plots",
    "widgets",
    "device",
    "checks",
    "exercises",
    "book",
    "claims",
    "calibration",
]

#: A dotted rnnlib name as a chapter writes it: ``rnnlib.LSTMCell``, ``rnnlib.train.fit``.
DOTTED = re.compile(r"\brnnlib(?:\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Target:
    """Where the API reference documents a name: a Sphinx Python role and a dotted target."""

    role: str  # "mod", "class", "func", "meth", "data", "attr" or "exc"
    name: str  # e.g. "rnnlib.cells.LSTMCell"


@functools.cache
def modules() -> list[str]:
    """rnnlib's public modules (``rnnlib.cells``, ...) in the API page's order."""
    import rnnlib

    found = [info.name for info in pkgutil.iter_modules(rnnlib.__path__)]
    public = [name for name in found if not name.startswith("_")]
    ordered = [name for name in MODULE_ORDER if name in public]
    ordered += sorted(set(public) - set(ordered))
    return [f"rnnlib.{name}" for name in ordered]


@functools.cache
def public_targets() -> dict[str, Target]:
    """Every public name of every module, as ``{"rnnlib.cells.LSTMCell": Target(...)}``."""
    targets = {}
    for module_name in modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            dotted = f"{module_name}.{name}"
            targets[dotted] = Target(_role_of(getattr(module, name)), dotted)
    return targets


def _role_of(obj) -> str:
    if isinstance(obj, type):
        return "exc" if issubclass(obj, BaseException) else "class"
    if callable(obj) and hasattr(obj, "__qualname__"):
        return "meth" if "." in obj.__qualname__ else "func"
    return "data"


def resolve(dotted: str) -> Target | None:
    """The API target of a name as a chapter writes it, or None if the API page lacks it.

    ``rnnlib`` -> the package; ``rnnlib.train`` -> a module; ``rnnlib.LSTMCell`` ->
    ``rnnlib.cells.LSTMCell``; ``rnnlib.train.History.losses`` -> an attribute of a class.
    """
    if dotted == "rnnlib":
        return Target("mod", "rnnlib")
    parts = dotted.split(".")
    try:
        obj = importlib.import_module("rnnlib")
        for index, part in enumerate(parts[1:], start=1):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(".".join(parts[: index + 1]))
    except (AttributeError, ImportError):
        return None
    if isinstance(obj, type(importlib)):  # a module
        return Target("mod", obj.__name__) if obj.__name__ in modules() else None
    # the name as its defining module lists it, then a member of a documented class
    target = _listed_target(obj, parts[-1])
    if target is not None:
        return target
    owner = resolve(".".join(parts[:-1])) if len(parts) > 2 else None
    if owner is not None and owner.role in ("class", "exc"):
        member = parts[-1]
        if member.startswith("_"):
            return None
        role = "meth" if callable(obj) else "attr"
        return Target(role, f"{_defining_class(owner.name, member)}.{member}")
    return None


def _listed_target(obj, name: str) -> Target | None:
    """The public target that a module's ``__all__`` lists as ``name`` and that is ``obj``."""
    for target in public_targets().values():
        module_name, _, listed = target.name.rpartition(".")
        if listed == name and getattr(importlib.import_module(module_name), listed) is obj:
            return target
    return None


def _defining_class(class_name: str, member: str) -> str:
    """The documented class whose body defines ``member``: ``class_name`` itself, or the base
    it inherits the member from (the API page documents an inherited member once, on the base:
    ``MovieSentiment.decode`` is ``WordTask.decode``)."""
    module_name, _, name = class_name.rpartition(".")
    for base in getattr(importlib.import_module(module_name), name).__mro__:
        if member in vars(base):
            target = _listed_target(base, base.__name__)
            return class_name if target is None else target.name
    return class_name


def _code_names(source: str) -> list[str]:
    """Dotted rnnlib names a code cell uses, in order: attribute chains and imports."""
    names = []
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: fall back to the text
        return DOTTED.findall(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rnnlib":
            names += [(node.lineno, node.col_offset, f"{node.module}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Attribute):
            chain = _attribute_chain(node)
            if chain and chain.startswith("rnnlib."):
                names.append((node.lineno, node.col_offset, chain))
    names.sort()
    return [name for _, _, name in names]


def _attribute_chain(node: ast.Attribute) -> str | None:
    parts = []
    current = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    return ".".join([current.id, *reversed(parts)])


def names_in_notebook(path: str | Path) -> list[Target]:
    """The API targets a chapter uses (in code or prose), each once, in order of first use."""
    seen: dict[Target, None] = {}
    for cell in nbformat.read(path, as_version=4).cells:
        dotted = (
            _code_names(cell.source) if cell.cell_type == "code" else DOTTED.findall(cell.source)
        )
        for name in dotted:
            target = resolve(name)
            if target is not None and target.name != "rnnlib":
                seen.setdefault(target, None)
    return list(seen)


def first_chapters(chapters: list[Path]) -> dict[str, list[Path]]:
    """For each public name, the chapters that use it, in the order given (the book's order).

    Members of a class count as uses of the class (``rnnlib.train.History.losses`` is a use of
    ``rnnlib.train.History``).
    """
    public = public_targets()
    used: dict[str, list[Path]] = {}
    for chapter in chapters:
        for target in names_in_notebook(chapter):
            name = target.name
            while name not in public and name.count(".") > 1:
                name = name.rpartition(".")[0]
            if name in public:
                users = used.setdefault(name, [])
                if chapter not in users:
                    users.append(chapter)
    return used
