"""The Claims page: every claim of the book, its kind, its bound, this build's value and its
calibration, generated from the build itself.

* While a chapter is read, the records its claims left in the notebook (``rnnlib.claims``
  glues each one under ``claim:<name>``; MyST-NB writes them to ``jupyter_execute/<doc>.glue.json``,
  also when the execution came from the cache) are collected, and the output line each claim
  printed ("holds: chNN...") gets an anchor ``claim-chNN-...``, so the page links to the very
  line in the chapter.
* ``{claims-summary}`` becomes a table with one row per chapter: claims (exact / statistical),
  the largest estimated failure rate, and their sum (a bound on the chance that a new seed
  offset breaks the chapter).
* ``{claims-table} chNN`` becomes the chapter's table: claim (linked to its line), what it says,
  kind, statistic and bound, this build's value, the calibrated range over n draws
  (``calibration/chNN.json``), and the estimated failure probability per run. Each row's id is
  the claim's anchor (``claims.html#claim-chNN-...``), so other pages link to a claim's row.

Nothing is typed by hand: a claim the build did not make does not appear, and a statistical
claim without a calibration says so in its row.
"""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

from docutils import nodes
from execution_status import _table
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

CLAIMS_DOC = "claims"
#: A claim's printed line: "holds: ch05.adding.lstm_solves: ..." (or "claim ch05... failed").
CLAIM_LINE = re.compile(r"^(?:holds: |claim )(ch\d\d(?:\.[a-z0-9_]+)+)", re.MULTILINE)


def anchor(name: str) -> str:
    """The HTML id of a claim's output line: ``ch05.adding.lstm`` -> ``claim-ch05-adding-lstm``."""
    return "claim-" + name.replace(".", "-").replace("_", "-")


def is_chapter(docname: str) -> bool:
    return docname.startswith("chapters/")


# --- collecting, while each chapter is read ----------------------------------------------------
def collect(app, doctree) -> None:
    docname = app.env.docname
    if not is_chapter(docname):
        return
    found, sections = {}, {}
    for block in doctree.findall(nodes.literal_block):
        for name in CLAIM_LINE.findall(block.astext()):
            block["ids"].append(anchor(name))
            found[name] = anchor(name)
            sections[name] = sections_around(block)
    records = {}
    for name, record in read_glue(app, docname).items():
        record["docname"] = docname
        record["anchor"] = found.get(name)
        record["sections"] = sections.get(name, [])
        records[name] = record
    store(app.env)[docname] = records


def sections_around(node: nodes.Node) -> list[str]:
    """The ids of every section that holds ``node``, innermost first (the lecture page lists a
    section's claims, its subsections' included)."""
    ids = []
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.section):
            ids.extend(parent["ids"])
        parent = parent.parent
    return ids


def read_glue(app, docname: str) -> dict[str, dict]:
    """The claim records glued by ``rnnlib.claims`` in the executed chapter."""
    folder = Path(app.env.mystnb_config.output_folder)
    path = folder.joinpath(*docname.split("/")).with_name(Path(docname).name + ".glue.json")
    if not path.is_file():
        return {}
    records = {}
    for key, output in json.loads(path.read_text()).items():
        if key.startswith("claim:"):
            text = output["data"]["text/plain"]
            records[key[len("claim:") :]] = json.loads(ast.literal_eval(text))
    return records


def store(env) -> dict[str, dict]:
    if not hasattr(env, "rnnlib_claims"):
        env.rnnlib_claims = {}
    return env.rnnlib_claims


def purge(app, env, docname) -> None:
    store(env).pop(docname, None)


def merge(app, env, docnames, other) -> None:
    store(env).update({name: store(other)[name] for name in docnames if name in store(other)})


def always_update_claims_page(app, env) -> list[str]:
    return [CLAIMS_DOC] if CLAIMS_DOC in env.found_docs else []


# --- the page's tables ---------------------------------------------------------------------------
class ClaimsSummaryNode(nodes.General, nodes.Element):
    """Placeholder for the per-chapter summary, filled once every chapter has been read."""


class ClaimsTableNode(nodes.General, nodes.Element):
    """Placeholder for one chapter's claims."""


class ClaimsSummary(SphinxDirective):
    def run(self):
        return [ClaimsSummaryNode()]


class ClaimsTable(SphinxDirective):
    required_arguments = 1

    def run(self):
        return [ClaimsTableNode(chapter=self.arguments[0])]


class FillClaims(SphinxPostTransform):
    default_priority = 8  # before references are resolved (the links to the chapters)

    def run(self, **kwargs) -> None:
        calibrations = load_calibrations(Path(self.env.srcdir) / "calibration")
        for node in list(self.document.findall(ClaimsSummaryNode)):
            node.replace_self(summary_table(self.env, calibrations))
        for node in list(self.document.findall(ClaimsTableNode)):
            chapter = node["chapter"]
            node.replace_self(chapter_claims(self.env, self.app.builder, chapter, calibrations))


def load_calibrations(folder: Path) -> dict[str, dict]:
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("ch*.json"))}


def chapter_records(env, chapter: str) -> tuple[str | None, dict[str, dict]]:
    for docname, records in sorted(store(env).items()):
        if Path(docname).name.startswith(chapter[2:] + "_"):
            return docname, records
    return None, {}


def estimate_of(record: dict, calibrations: dict) -> float | None:
    """The failure estimate of a statistical claim, from its calibration (None if it has none)."""
    from rnnlib import calibration

    if record["kind"] != "statistical":
        return 0.0
    entry = calibrations.get(record["chapter"], {}).get("claims", {}).get(record["name"])
    if not entry:
        return None
    return calibration.failure_probability_of(record, entry["values"])


def summary_table(env, calibrations: dict) -> nodes.Node:
    rows, book_sum = [], 0.0
    for docname in sorted(store(env)):
        records = store(env)[docname]
        if not records:
            continue
        chapter = next(iter(records.values()))["chapter"]
        estimates = [estimate_of(r, calibrations) for r in records.values()]
        statistical = sum(r["kind"] == "statistical" for r in records.values())
        known = [e for e in estimates if e is not None]
        book_sum += sum(known)
        calibrated = len(known) == len(estimates)
        link = nodes.paragraph()
        link += _ref(CLAIMS_DOC, f"claims-{chapter}", env.titles[docname].astext())
        rows.append(
            [
                link,
                str(len(records) - statistical),
                str(statistical),
                describe_estimate(max(known)) if calibrated and known else "unknown",
                describe_estimate(sum(known)) if calibrated else "unknown (not calibrated)",
            ]
        )
    rows.append(["the whole book", "", "", "", describe_estimate(book_sum)])
    headers = ["Chapter", "Exact", "Statistical", "Largest failure rate", "Sum of failure rates"]
    return _table(headers, rows, "claims-summary")


def _breakable_name(name: str) -> nodes.Node:
    """The claim's name as code that a narrow column wraps after a dot or an underscore, not
    inside a word (``<wbr>`` marks where; copying the name copies none of it)."""
    words = re.split(r"(?<=[._])", name)
    nowrap = '<span class="pre" style="white-space: nowrap">{}</span>'
    inner = "<wbr>".join(nowrap.format(html.escape(word)) for word in words)
    return nodes.raw(
        "", f'<code class="docutils literal notranslate claim-name">{inner}</code>', format="html"
    )


def chapter_claims(env, builder, chapter: str, calibrations: dict) -> nodes.Node:
    docname, records = chapter_records(env, chapter)
    if not records:
        return nodes.paragraph(text=f"This build made no claims for {chapter}.")
    rows = []
    for name, record in records.items():
        link = nodes.paragraph()
        target = _breakable_name(name)
        link += _link(builder, docname, record.get("anchor"), target)
        rows.append(
            [
                link,
                record["says"],
                "exact" if record["kind"] == "exact" else "statistical",
                describe_statistic(record),
                describe_value(record),
                describe_calibration(record, calibrations),
                describe_estimate(estimate_of(record, calibrations)),
            ]
        )
    headers = [
        "Claim",
        "Says",
        "Kind",
        "Statistic and bound",
        "This build",
        "Calibrated range",
        "Failure rate per run",
    ]
    table = _table(headers, rows, "claims-table")
    # each row is the target of the claim's links from the lecture page (claims.html#claim-...)
    body = next(iter(table.findall(nodes.tbody)))
    for name, row in zip(records, body.children, strict=True):
        row["ids"].append(anchor(name))
    return table


def describe_bound(record: dict) -> str:
    below, above = record.get("below"), record.get("above")
    if record.get("equals") is not None:
        return f"= {_fmt(record['equals'])}"
    if below is not None and above is not None:
        return f"in ({_fmt(above)}, {_fmt(below)})"
    if below is not None:
        return f"< {_fmt(below)}"
    if above is not None:
        return f"> {_fmt(above)}"
    return "true"


def describe_statistic(record: dict) -> str:
    bound = describe_bound(record)
    if record["kind"] == "exact":
        tolerance = ""
        if record.get("atol") or record.get("rtol"):
            tolerance = f" (atol {record['atol']:g}, rtol {record['rtol']:g})"
        return f"{bound}{tolerance}"
    k, draws = record["k"], record["draws"]
    of = ""
    if record.get("versus"):
        of = " of the per-seed " + record["versus"]["by"]
    if record["statistic"] == "at_least":
        return f"at least {record['at_least']} of {k} {draws}s{of} {bound}"
    if record["statistic"] == "every":
        return f"every one of {k} {draws}s{of} {bound}"
    return f"{record['statistic']} over {k} {draws}s{of} {bound}"


def describe_value(record: dict) -> str:
    value = record["value"]
    if record["kind"] == "statistical" and record["statistic"] == "at_least":
        return f"{value} of {record['k']}"
    return _fmt(value)


def describe_calibration(record: dict, calibrations: dict) -> str:
    if record["kind"] == "exact":
        return "not needed (exact)"
    entry = calibrations.get(record["chapter"], {}).get("claims", {}).get(record["name"])
    if not entry:
        return "not calibrated"
    return f"{_fmt(entry['min'])} to {_fmt(entry['max'])} ({entry['n']} draws)"


def describe_estimate(estimate: float | None) -> str:
    if estimate is None:
        return "unknown"
    if estimate == 0.0:
        return "0"
    return f"{estimate:.0e}"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def _ref(from_doc: str, label: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref(
        refdoc=from_doc,
        reftarget=label,
        reftype="ref",
        refdomain="std",
        refexplicit=True,
        refwarn=True,
    )
    ref += nodes.inline(text=text)
    return ref


def _link(builder, docname: str, anchor_id: str | None, content: nodes.Node) -> nodes.Node:
    """A link from the Claims page to the chapter, at the claim's output line when it has one."""
    uri = builder.get_relative_uri(CLAIMS_DOC, docname)
    if anchor_id:
        uri += f"#{anchor_id}"
    ref = nodes.reference("", "", internal=True, refuri=uri)
    ref += content
    return ref


def setup(app):
    app.add_node(ClaimsSummaryNode)
    app.add_node(ClaimsTableNode)
    app.add_directive("claims-summary", ClaimsSummary)
    app.add_directive("claims-table", ClaimsTable)
    app.add_post_transform(FillClaims)
    app.connect("doctree-read", collect)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-updated", always_update_claims_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
