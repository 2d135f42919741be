"""Link the chapters to the glossary and to the API reference, in their Markdown cells.

Authors' helper, not part of rnnlib. Two kinds of link, both written as MyST roles:

* the first use of each glossary term in a chapter's prose becomes ``{term}`...```
  (``vanishing gradients`` -> ``{term}`vanishing gradients <vanishing gradient>```), so a
  reader who lands on any chapter finds the definition;
* every mention of an rnnlib name as inline code (``rnnlib.LSTMCell``, ``rnnlib.seeds()``)
  becomes a Python role (``{py:class}`rnnlib.LSTMCell```) that the website links to the API
  reference (``_extensions/rnnlib_api.py`` resolves the package-level names).

Usage::

    python -m tools.link_terms chapters/*.ipynb           # add the links (idempotent)
    python -m tools.link_terms --check chapters/*.ipynb   # exit 1 if a chapter lacks one

It changes Markdown cells only, never code, and leaves alone what is not prose: headings,
tables, fenced blocks (code, admonitions such as exercise solutions), math, inline code that is
not an rnnlib name, links and existing roles. A term already linked anywhere in a chapter is
left as it is, so running it twice changes nothing. Notebooks are written with ``nbformat`` and
their outputs stripped, like ``tools.new_chapter.write_chapter`` writes them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.rnnlib_names import resolve

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "glossary.md"

#: Each glossary term (exactly as glossary.md defines it) and the forms it takes in prose. A form
#: may start with a capital (start of a sentence); the rest is matched as written, so the
#: lecture's title "Vanishing Gradients and Fancy RNNs" is not a use of the term.
TERMS: dict[str, str] = {
    "backpropagation through time": r"backpropagation through time",
    "vanishing gradient": r"vanishing(?:-| )gradients?",
    "exploding gradient": r"exploding(?:-| )gradients?",
    "Jacobian": r"Jacobians?",
    "spectral radius": r"spectral radi(?:us|i)",
    "saturation": r"saturat(?:ion|es|ed|e)",
    "gradient clipping": r"(?:gradient )?clipping",
    "gate": r"gates?",
    "cell state": r"cell(?:-| )states?",
    "residual connection": r"residual connections?",
    "dense connection": r"dense connections?",
    "highway connection": r"highway connections?",
    "bidirectional RNN": r"bidirectional RNNs?",
    "stacked RNN": r"(?:stacked|multi-layer) RNNs?",
    "contextual representation": r"contextual representations?",
}

#: What is not prose, in the order it is recognised: fenced blocks (``` ~~~ :::), display math,
#: headings, table rows, comments, roles, inline code, inline math, links, HTML and autolinks.
PROTECTED = re.compile(
    r"""
      ^[ \t]*(?P<fence>`{3,}|~{3,}|:{3,})[^\n]*\n(?:[^\n]*\n)*?[ \t]*(?P=fence)[ \t]*$
    | \$\$[\s\S]*?\$\$
    | ^[ \t]*\#{1,6}[ \t][^\n]*$
    | ^[ \t]*\|[^\n]*$
    | ^%[^\n]*$
    | \{[\w:.-]+\}`[^`]*`
    | (?P<ticks>`+)[\s\S]+?(?P=ticks)
    | (?<!\\)\$(?:[^$\n]|\n(?![ \t]*\n))+?\$
    | !?\[[^\]]*\]\([^)\n]*\)
    | <[^>\n]+>
    """,
    re.MULTILINE | re.VERBOSE,
)
#: An rnnlib name as inline code: `rnnlib`, `rnnlib.train.fit`, `rnnlib.seeds()`.
RNNLIB_CODE = re.compile(r"(?<![}`])`(?P<name>rnnlib(?:\.[A-Za-z_]\w*)*)(?P<call>\(\))?`(?!`)")
TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<(?P<target>[^>`]+)>|(?P<plain>[^`]+))`")


def term_pattern(forms: str) -> re.Pattern:
    """``forms`` with an optional capital first letter, as a whole word (not inside a-b)."""
    first, rest = forms[0], forms[1:]
    start = f"[{first}{first.upper()}]" if first.isalpha() else first
    return re.compile(rf"(?<![\w-]){start}{rest}(?![\w-])")


PATTERNS = {term: term_pattern(forms) for term, forms in TERMS.items()}


def glossary_terms(path: Path = GLOSSARY) -> list[str]:
    """The terms glossary.md defines: the unindented lines inside its glossary directive."""
    text = path.read_text()
    body = re.search(r"```\{glossary\}\n(.*?)\n```", text, flags=re.DOTALL)
    if body is None:
        raise ValueError(f"{path} has no ```{{glossary}} directive")
    return [line.strip() for line in body.group(1).splitlines() if line and line[0] != " "]


def prose_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) ranges of ``text`` that are prose, between the protected parts."""
    spans, position = [], 0
    for match in PROTECTED.finditer(text):
        if match.start() > position:
            spans.append((position, match.start()))
        position = max(position, match.end())
    if position < len(text):
        spans.append((position, len(text)))
    return spans


def find_term(text: str, term: str) -> re.Match | None:
    """The first use of ``term`` in the prose of ``text``."""
    for start, end in prose_spans(text):
        match = PATTERNS[term].search(text, start, end)
        if match:
            return match
    return None


def linked_terms(texts: list[str]) -> set[str]:
    """The glossary terms a chapter already links with ``{term}``."""
    found = set()
    for text in texts:
        for match in TERM_ROLE.finditer(text):
            found.add((match["target"] or match["plain"]).strip())
    return found


def term_role(found: str, term: str) -> str:
    return f"{{term}}`{found}`" if found == term else f"{{term}}`{found} <{term}>`"


def link_rnnlib_names(text: str) -> tuple[str, list[str]]:
    """Every inline-code rnnlib name that the API documents, as a Python role; and the names
    that it does not document (left as inline code)."""
    unknown = []

    def replace(match: re.Match) -> str:
        target = resolve(match["name"])
        if target is None:
            unknown.append(match["name"])
            return match.group(0)
        return f"{{py:{target.role}}}`{match['name']}{match['call'] or ''}`"

    pieces, position = [], 0
    for start, end in code_blocks(text):  # code stays code
        pieces += [RNNLIB_CODE.sub(replace, text[position:start]), text[start:end]]
        position = end
    pieces.append(RNNLIB_CODE.sub(replace, text[position:]))
    return "".join(pieces), unknown


def code_blocks(text: str) -> list[tuple[int, int]]:
    """The fenced code blocks of ``text`` (fences that are not a ``{directive}``)."""
    return [
        match.span()
        for match in PROTECTED.finditer(text)
        if match["fence"] and not match.group(0).lstrip(" \t`~:").startswith("{")
    ]


@dataclass
class Report:
    path: Path
    added_terms: list[str]
    added_names: int
    missing: list[str]  # what --check complains about
    unknown: list[str]  # rnnlib names the API reference does not document


def link_chapter(path: Path, write: bool = True) -> Report:
    """Add the links to one chapter (or, with ``write=False``, only report what is missing)."""
    notebook = nbformat.read(path, as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    sources = [cell.source for cell in cells]
    added_terms, added_names, missing, unknown = [], 0, [], []

    for index, source in enumerate(sources):
        linked, not_documented = link_rnnlib_names(source)
        unknown += not_documented
        names = linked.count("{py:") - source.count("{py:")
        if names:
            added_names += names
            missing.append(f"{names} rnnlib name(s) not linked to the API in cell {index}")
        sources[index] = linked

    already = linked_terms(sources)
    for term in TERMS:
        if term in already:
            continue
        for index, source in enumerate(sources):
            match = find_term(source, term)
            if match:
                role = term_role(match.group(0), term)
                sources[index] = source[: match.start()] + role + source[match.end() :]
                added_terms.append(term)
                missing.append(f"first use of the term {term!r} not linked: {match.group(0)!r}")
                break

    if write and (added_terms or added_names):
        for cell, source in zip(cells, sources, strict=True):
            cell.source = source
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, path)
    return Report(path, added_terms, added_names, missing, sorted(set(unknown)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a chapter lacks a link"
    )
    args = parser.parse_args(argv)
    unknown_terms = set(TERMS) ^ set(glossary_terms())
    if unknown_terms:
        print(f"TERMS and glossary.md disagree on: {sorted(unknown_terms)}", file=sys.stderr)
        return 2
    failed = False
    for path in args.notebooks:
        report = link_chapter(path, write=not args.check)
        for name in report.unknown:
            print(f"{path}: note: `{name}` is not in the API reference; left as code")
        if args.check:
            failed |= bool(report.missing)
            for problem in report.missing:
                print(f"{path}: {problem}")
        else:
            print(
                f"{path}: linked {len(report.added_terms)} term(s)"
                + (f" ({', '.join(report.added_terms)})" if report.added_terms else "")
                + f" and {report.added_names} rnnlib name(s)"
            )
    if args.check:
        print("link_terms: some chapters lack links" if failed else "link_terms: all linked")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
