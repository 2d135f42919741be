"""The rnnlib API reference: every module through autodoc, each public name linked to the book.

``.. rnnlib-api::`` (in ``api.rst``) writes one section per module of rnnlib, in the order of
``tools.rnnlib_names.modules()`` (a module added to the package appears without editing the
page), each an ``automodule`` with its members: the docstrings, with their shapes and equations.

Every public name (a module's ``__all__``) then gets a line "In the book: introduced in
chapter N; also used in ..." found by reading the chapters (``tools.rnnlib_names``): the
first chapter, in the book's order, whose code or prose uses the name.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tools/ lives at the repository's root
    sys.path.insert(0, str(ROOT))

from tools import rnnlib_names  # noqa: E402

#: CSS class of the "In the book" line (tests/book/test_site.py looks for it).
IN_THE_BOOK_CLASS = "rnnlib-in-the-book"


def _sources(module: str) -> list[Path]:
    """A module's files: ``rnnlib/cells.py``, or every file of a package (``rnnlib/tasks/``)."""
    path = ROOT / Path(*module.split("."))
    return sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


class RnnlibApi(SphinxDirective):
    """One section per rnnlib module: ``automodule`` with members, source order."""

    def run(self) -> list[nodes.Node]:
        lines = []
        for module in rnnlib_names.modules():
            title = f"``{module}``"
            lines += [
                title,
                "-" * len(title),
                "",
                f".. automodule:: {module}",
                "   :members:",
                "   :show-inheritance:",
                "   :member-order: bysource",
                "",
            ]
            for source in _sources(module):
                self.env.note_dependency(str(source))
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="rnnlib-api"), container)
        return container.children


def chapter_uses(app) -> dict[str, list[str]]:
    """``{"rnnlib.cells.LSTMCell": ["chapters/05_lstm", "chapters/06_gru"], ...}``, once per
    build (the chapters in the book: those the table of contents lists)."""
    if not hasattr(app.env, "rnnlib_chapter_uses"):
        chapters = sorted(
            ROOT / f"{docname}.ipynb"
            for docname in app.env.found_docs
            if docname.startswith("chapters/") and (ROOT / f"{docname}.ipynb").exists()
        )
        uses = rnnlib_names.first_chapters(chapters)
        app.env.rnnlib_chapter_uses = {
            name: [path.relative_to(ROOT).with_suffix("").as_posix() for path in paths]
            for name, paths in uses.items()
        }
    return app.env.rnnlib_chapter_uses


def _chapter_link(docname: str) -> str:
    number = Path(docname).name.split("_", 1)[0].lstrip("0")
    return f":doc:`chapter {number} </{docname}>`"


def add_chapter_links(app, what, name, obj, options, lines: list[str]) -> None:
    """Append the "In the book" line to the docstring of every public name."""
    if name not in rnnlib_names.public_targets():
        return
    chapters = chapter_uses(app).get(name, [])
    if chapters:
        text = f"*In the book:* introduced in {_chapter_link(chapters[0])}"
        if len(chapters) > 1:
            text += "; also used in " + ", ".join(map(_chapter_link, chapters[1:]))
        text += "."
    else:
        text = "*In the book:* not used in a chapter yet."
    lines += ["", f".. container:: {IN_THE_BOOK_CLASS}", "", f"   {text}", ""]


def resolve_aliases(app, env, node, contnode):
    """Resolve ``rnnlib.LSTMCell`` (what chapters and docstrings write) to the documented
    ``rnnlib.cells.LSTMCell``, and a bare name that the package exports (``RNNCell`` in a
    docstring of ``rnnlib.layers``) the same way."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if "." not in target:
        import rnnlib

        if not hasattr(rnnlib, target):
            return None
        target = f"rnnlib.{target}"
    if not target.startswith("rnnlib."):
        return None
    resolved = rnnlib_names.resolve(target)
    if resolved is None or resolved.name == target:
        return None
    python = env.get_domain("py")
    return python.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], resolved.name, node, contnode
    )


def public_bases(app, name, obj, options, bases: list) -> None:
    """Show a private base class (``_TorchLikeRNN``) as the public classes it derives from."""
    index = 0
    while index < len(bases):
        base = bases[index]
        if getattr(base, "__name__", "").startswith("_"):
            bases[index : index + 1] = list(base.__bases__)
        else:
            index += 1


def forget_uses(app, env, docnames) -> None:
    """Chapters may have changed: read them again in this build."""
    if hasattr(env, "rnnlib_chapter_uses"):
        del env.rnnlib_chapter_uses


def setup(app):
    app.add_directive("rnnlib-api", RnnlibApi)
    app.connect("autodoc-process-docstring", add_chapter_links)
    app.connect("autodoc-process-bases", public_bases)
    app.connect("missing-reference", resolve_aliases)
    app.connect("env-before-read-docs", forget_uses)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
