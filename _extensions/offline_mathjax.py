"""MathJax from the site's own static files, so the pages typeset their math without a CDN.

``scripts/build.sh`` and ``scripts/test.sh`` fetch the npm package ``mathjax@3`` into
``.cache/mathjax``. This extension copies its ``es5`` folder (the combined file that
``mathjax_path`` names, plus the components MathJax loads on demand, such as the accessibility
menu's) into the built site's ``_static/mathjax/``, and ``mathjax_path`` points there, relative
to ``_static``. The site then works opened from disk or from any local server.

The book uses the SVG output (``tex-mml-svg.js``): it draws glyphs as paths and needs no web
fonts, which some browsers refuse to load from ``file://`` pages in another folder.

The copy does not go through ``_static/`` in the repository on purpose: Jupyter Book adds every
``.js`` file under ``_static/`` to every page, and MathJax's components must load only on demand.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sphinx.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
#: Where scripts/build.sh and scripts/test.sh put the npm package.
PACKAGE = ROOT / ".cache" / "mathjax" / "node_modules" / "mathjax"
#: The folder under the site's _static that mathjax_path must point into.
PREFIX = "mathjax/"


def mathjax_version() -> str:
    """The npm package's version, e.g. ``3.2.2`` (the status page shows it)."""
    return json.loads((PACKAGE / "package.json").read_text())["version"]


def check_source(app, config) -> None:
    """Fail early, before any chapter runs, when the configuration or the package is wrong."""
    path = config.mathjax_path
    if not path.startswith(PREFIX):
        raise ConfigError(
            f"mathjax_path must be relative to _static and start with {PREFIX!r} (the book "
            f"serves its own MathJax, no CDN); got {path!r}"
        )
    bundle = PACKAGE / "es5" / path.removeprefix(PREFIX)
    if not bundle.is_file():
        raise ConfigError(
            f"{bundle} is missing: run `bash scripts/build.sh` (it installs MathJax 3 from npm "
            "into .cache/mathjax), or `npm install --prefix .cache/mathjax mathjax@3`"
        )


def copy_mathjax(app, exception) -> None:
    """Copy the bundle and MathJax's on-demand components into ``_static/mathjax/``."""
    if exception is not None or app.builder.format != "html":
        return
    source = PACKAGE / "es5"
    target = Path(app.outdir) / "_static" / PREFIX
    bundle = app.config.mathjax_path.removeprefix(PREFIX)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(source / bundle, target / bundle)
    for folder in source.iterdir():
        if folder.is_dir():
            shutil.copytree(folder, target / folder.name)


def setup(app):
    app.connect("config-inited", check_source)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
