"""Emit each inline ``<script>`` of a page once.

Sphinx 7.4's HTML builder registers a body-only script that an extension adds after
``Builder.init()`` twice (once as filename ``None``, once as ``''`` in ``prepare_writing``), so
every page of a Jupyter Book 1 site declares sphinx-thebe's ``const THEBE_JS_URL`` twice and the
browser reports "Identifier 'THEBE_JS_URL' has already been declared". This keeps the first copy
of each script; tests/book/test_site.py checks that the console stays clean.
"""

from __future__ import annotations


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {})
    return (script.filename or "", tuple(sorted(attributes.items())))


def keep_first_copy(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", keep_first_copy, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
