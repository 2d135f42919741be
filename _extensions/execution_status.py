"""Execution status, from the build itself: each chapter's run time at the top of its page, and
the tables of the status page (modelled on the QuantEcon lectures' status page).

* Every chapter page gets a line under its title, "Expected run time: about 35 s on CPU, 1
  thread, measured when this page's code last ran", linking to the status page.
* ``{execution-status}`` becomes a table with one row per chapter: run time, when it ran,
  whether it passed, and the device it ran on.
* ``{build-environment}`` becomes a table of the versions of Python, torch and the book's
  packages in the environment that built the site.

The numbers come from MyST-NB's execution record of each notebook (the run time that
jupyter-cache stored when the chapter last ran, so a cached chapter keeps its measured time)
and from the line the chapter's setup cell prints (``rnnlib.setup``: the device and torch's
version in the kernel that ran it). Nothing is typed by hand and no notebook is edited.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

#: The setup cell's line, e.g. "rnnlib: device = cpu (cpu), 1 CPU thread(s), torch 2.13.0+cpu,
#: seed = 0" (rnnlib.device.setup prints it).
SETUP_LINE = re.compile(
    r"rnnlib: device = (?P<type>\w+)(?::\d+)? \((?P<name>[^)]*)\)"
    r"(?:, (?P<threads>\d+) CPU thread\(s\))?, torch (?P<torch>[^,\s]+)"
)
#: The page the run-time lines link to.
STATUS_DOC = "status"
#: CSS class of the run-time line (tests/book/test_site.py looks for it).
RUN_TIME_CLASS = "chapter-run-time"
#: The packages whose versions the status page lists, in this order.
PACKAGES = [
    "torch",
    "numpy",
    "matplotlib",
    "ipywidgets",
    "rnnlib",
    "jupyter-book",
    "myst-nb",
    "jupyter-cache",
    "sphinx",
    "sphinx-book-theme",
]


def is_chapter(docname: str) -> bool:
    return docname.startswith("chapters/")


def describe_device(match: re.Match | None) -> str:
    """``CPU, 1 thread``, ``GPU: NVIDIA H200`` or ``Apple MPS`` from the setup cell's line."""
    if match is None:
        return "unknown (no setup line in the output)"
    if match["type"] == "cpu":
        threads = int(match["threads"] or 0)
        return f"CPU, {threads} thread{'s' if threads != 1 else ''}" if threads else "CPU"
    if match["type"] == "cuda":
        return f"GPU: {match['name']}"
    if match["type"] == "mps":
        return "Apple MPS"
    return match["name"] or match["type"]


def describe_run_time(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    if seconds < 90:
        return f"about {seconds:.0f} s"
    return f"about {seconds / 60:.1f} min"


# --- collecting: one record per chapter, while the chapter is read ----------------------------
def collect(app, doctree) -> None:
    """Record the chapter's execution and put the run-time line under its title."""
    docname = app.env.docname
    if not is_chapter(docname):
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    execution = NbMetadataCollector.get_exec_data(app.env, docname) or {}
    setup_line = None
    for block in doctree.findall(nodes.literal_block):
        setup_line = SETUP_LINE.search(block.astext())
        if setup_line:
            break
    record = {
        "runtime": execution.get("runtime"),
        "mtime": execution.get("mtime"),
        "succeeded": execution.get("succeeded"),
        "device": describe_device(setup_line),
        "torch": setup_line["torch"] if setup_line else "",
    }
    records(app.env)[docname] = record
    insert_run_time_line(doctree, docname, record)


def records(env) -> dict[str, dict]:
    if not hasattr(env, "rnnlib_execution"):
        env.rnnlib_execution = {}
    return env.rnnlib_execution


def insert_run_time_line(doctree, docname: str, record: dict) -> None:
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not isinstance(section[0], nodes.title):
        return
    line = nodes.paragraph(classes=[RUN_TIME_CLASS])
    line += nodes.strong(text="Expected run time: ")
    line += nodes.Text(
        f"{describe_run_time(record['runtime'])} on {record['device']}, measured when this "
        "page's code last ran (every chapter: "
    )
    line += _doc_link(docname, STATUS_DOC, "execution status")
    line += nodes.Text(").")
    section.insert(1, line)


def _doc_link(from_doc: str, to_doc: str, text: str) -> addnodes.pending_xref:
    link = addnodes.pending_xref(
        refdoc=from_doc,
        reftarget=f"/{to_doc}",
        reftype="doc",
        refdomain="std",
        refexplicit=True,
        refwarn=True,
    )
    link += nodes.inline(text=text)
    return link


def purge(app, env, docname) -> None:
    records(env).pop(docname, None)


def merge(app, env, docnames, other) -> None:
    records(env).update({name: records(other)[name] for name in docnames if name in records(other)})


# --- the status page's tables ----------------------------------------------------------------
class ExecutionStatusNode(nodes.General, nodes.Element):
    """Placeholder for the chapters' table, filled once every chapter has been read."""


class ExecutionStatus(SphinxDirective):
    def run(self):
        return [ExecutionStatusNode()]


class FillExecutionStatus(SphinxPostTransform):
    default_priority = 8  # before references are resolved (the chapter links)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(ExecutionStatusNode)):
            node.replace_self(chapter_table(self.env, self.env.docname))


def chapter_table(env, docname: str) -> nodes.table:
    rows, total = [], 0.0
    for chapter in sorted(records(env)):
        record = records(env)[chapter]
        runtime = record["runtime"]
        total += runtime or 0.0
        when = (
            datetime.datetime.fromtimestamp(record["mtime"], tz=datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M"
            )
            if record["mtime"]
            else "-"
        )
        status = {True: "passed", False: "failed"}.get(record["succeeded"], "not run")
        link = nodes.paragraph()
        link += _doc_link(docname, chapter, env.titles[chapter].astext())
        rows.append(
            [
                link,
                "-" if runtime is None else f"{runtime:.1f}",
                when,
                status,
                record["device"],
                record["torch"],
            ]
        )
    rows.append(["all chapters", f"{total:.1f}", "", "", "", ""])
    headers = ["Chapter", "Run time (s)", "Executed (UTC)", "Status", "Device", "torch"]
    return _table(headers, rows, "chapter-execution-status")


class BuildEnvironment(SphinxDirective):
    """The versions of the build's Python and packages, the machine, and the build's date."""

    def run(self):
        from offline_mathjax import mathjax_version

        rows = [["Python", platform.python_version()]]
        rows += [[name, _version(name)] for name in PACKAGES]
        rows += [["MathJax", mathjax_version()]]
        built = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        machine = [
            ["operating system", platform.platform()],
            ["CPU cores", str(os.cpu_count())],
            ["GPU", _gpu()],
            ["site built", built],
        ]
        return [
            _table(["Software", "Version"], rows, "build-environment"),
            _table(["Machine", ""], machine, "build-machine"),
        ]


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _gpu() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "none"


def _table(headers: list[str], rows: list[list], css_class: str) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto", css_class])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in headers)
    head = nodes.thead()
    group += head
    head += _row(headers)
    body = nodes.tbody()
    group += body
    body.extend(_row(cells) for cells in rows)
    return table


def _row(cells: list) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        content = cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=cell)
        row += nodes.entry("", content)
    return row


def always_update_status_page(app, env) -> list[str]:
    """The status page shows every chapter's record: write it again whenever a chapter was read."""
    return [STATUS_DOC] if STATUS_DOC in env.found_docs else []


def setup(app):
    app.add_node(ExecutionStatusNode)
    app.add_directive("execution-status", ExecutionStatus)
    app.add_directive("build-environment", BuildEnvironment)
    app.add_post_transform(FillExecutionStatus)
    app.connect("doctree-read", collect)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-updated", always_update_status_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
