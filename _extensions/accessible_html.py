"""Markup fixes that make every page pass axe-core's serious and critical rules.

Sphinx 7.4 and docutils emit two structures that assistive technology cannot read, which
tests/book/test_site.py's accessibility audit reports:

* A signature longer than ``maximum_signature_line_length`` (the API page) lists one parameter
  per line as ``<dl><dd>...</dd></dl>`` inside the signature's ``<dt>``: a definition list
  without terms (axe: definition-list). Here each parameter becomes a ``<div>`` line in a
  ``<div>`` (``_static/book.css`` indents them as before).
* The bibliography (the references page) is ``<div role="list">`` whose entries carry the
  deprecated role ``doc-biblioentry``, which a list may not hold (axe: aria-required-children,
  aria-deprecated-role). Each entry becomes a ``listitem``.

Both are rewritten in the page's HTML body as it is written (``html-page-context``), so the
source documents and the other builders are untouched.
"""

from __future__ import annotations

import re

#: A signature's term: ``<dt class="sig sig-object ...">`` up to its ``</dt>``.
SIGNATURE = re.compile(r'(<dt class="sig sig-object[^"]*"[^>]*>)(.*?)(</dt>)', re.DOTALL)


def signature_lines(match: re.Match) -> str:
    start, inside, end = match.groups()
    inside = re.sub(r"<dl(\s[^>]*)?>", '<div class="sig-param-lines">', inside)
    inside = inside.replace("</dl>", "</div>")
    inside = re.sub(r"<dd(\s[^>]*)?>", '<div class="sig-param-line">', inside)
    inside = inside.replace("</dd>", "</div>")
    return start + inside + end


def accessible(body: str) -> str:
    body = SIGNATURE.sub(signature_lines, body)
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def rewrite_body(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = accessible(context["body"])


def setup(app):
    app.connect("html-page-context", rewrite_body)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
