"""The website as a reader's browser shows it: build the book strictly, open every page of
``_toc.yml`` in headless Chromium and check the title, the typeset math, the figures, the
solution toggles and the console.

The build goes to the repository's ``_build`` (not a temporary folder) on purpose: the book build
that CI runs after the tests then reuses the executed notebooks in ``_build/.jupyter_cache``.
There is no internet here, and a page must not need it: the one external resource the book uses,
MathJax, is served from a local npm copy (``scripts/test.sh`` fetches it into ``.cache/mathjax``)
under its CDN URL; every other external request is aborted, which the browser reports as a
console error, so the test fails and names it. Screenshots go to ``test-artifacts/site/``.
"""

from __future__ import annotations

import functools
import http.server
import mimetypes
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
ARTIFACTS = ROOT / "test-artifacts" / "site"
MATHJAX_PACKAGE = ROOT / ".cache" / "mathjax" / "node_modules" / "mathjax"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
#: The MathJax URL the pages load, e.g. https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js;
#: everything under ``.../mathjax@3/`` is served from the npm package of the same major version.
MATHJAX_URL = CONFIG["sphinx"]["config"]["mathjax_path"]
MATHJAX_PREFIX = MATHJAX_URL[: MATHJAX_URL.index("mathjax@3/") + len("mathjax@3/")]
PAGES = list(parse_toc_yaml(ROOT / "_toc.yml"))
#: Markup that must never reach a reader as text (e.g. a table printed with display(Markdown)
#: that the site does not parse): a citation role, a Markdown table row, display-math fences.
UNRENDERED_MARKUP = {
    "a {cite} role": r"\{cite(:[a-z]+)?\}",
    "a Markdown table row": r"\|\s*:?-{3,}",
    "display math fences": r"\$\$",
    "a MyST role (e.g. an unresolved {glue:text})": r"\{[a-z]+(:[a-z]+)?\}`",
}
#: Pages that carry no math by nature (the bibliography); every other page must show some.
PAGES_WITHOUT_MATH = {"references"}


def source_of(docname: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / f"{docname}{suffix}").exists():
            return ROOT / f"{docname}{suffix}"
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but neither .ipynb nor .md exists")


def expected_title(docname: str) -> str:
    """The page's first level-1 heading as the browser's tab shows it, then the book's title."""
    path = source_of(docname)
    if path.suffix == ".ipynb":
        markdown = [
            c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
        ]
        text = "\n".join(markdown)
    else:
        text = path.read_text()
    match = re.search(r"^# (.+)$", text, flags=re.MULTILINE)
    assert match, f"{path.name} has no level-1 heading ('# Title'), so its page has no title"
    heading = re.sub(r"\$([^$]+)\$", r"\\(\1\\)", match.group(1).strip())  # Sphinx keeps TeX
    heading = re.sub(r"[`*]", "", heading)
    return f"{heading} \N{EM DASH} {CONFIG['title']}"


@pytest.fixture(scope="session")
def built_site() -> Path:
    """Build the book as CI does (strict: any warning fails) and return the HTML folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    jupyter_book = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    command = [jupyter_book, "build", "--all", str(ROOT), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    log = result.stdout + result.stderr
    (ARTIFACTS / "build.log").write_text(log)
    if result.returncode != 0:
        problems = [line for line in log.splitlines() if re.search(r"WARNING|ERROR|Error", line)]
        pytest.fail(
            "the strict book build failed (exit code {}); warnings and errors:\n{}\n"
            "full log: test-artifacts/site/build.log".format(
                result.returncode, "\n".join(problems[-40:]) or log[-4000:]
            )
        )
    return HTML


@pytest.fixture(scope="session")
def site_url(built_site: Path):
    """Serve the built site over HTTP on localhost, as GitHub Pages serves it."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output readable
            pass

    handler = functools.partial(QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/test.sh`, which installs it")
    if not (MATHJAX_PACKAGE / "es5").is_dir():
        pytest.fail(f"no local MathJax in {MATHJAX_PACKAGE}: run `bash scripts/test.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serve_mathjax_locally_and_block_the_rest(page, site_url: str, blocked: list[str]) -> None:
    def handle(route):
        url = route.request.url
        if url.startswith(site_url):
            route.continue_()
        elif url.startswith(MATHJAX_PREFIX):
            local = MATHJAX_PACKAGE / urlsplit(url).path.split("mathjax@3/", 1)[1]
            if local.is_file():
                content_type = mimetypes.guess_type(local.name)[0] or "application/octet-stream"
                # CORS header as the CDN sends it: MathJax's web fonts are cross-origin loads.
                route.fulfill(
                    body=local.read_bytes(),
                    content_type=content_type,
                    headers={"Access-Control-Allow-Origin": "*"},
                )
            else:  # a MathJax file the npm package lacks: a real failure, reported by the console
                blocked.append(url)
                route.abort()
        else:
            blocked.append(url)
            route.abort()  # shows as a console error ("Failed to load resource"): the test fails

    page.route("**/*", handle)


@pytest.mark.parametrize("docname", PAGES)
def test_page_renders_with_title_math_figures_and_no_console_errors(browser, site_url, docname):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console_errors: list[str] = []
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_errors.append(f"{message.text} ({message.location.get('url')})")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    serve_mathjax_locally_and_block_the_rest(page, site_url, blocked)
    try:
        response = page.goto(f"{site_url}/{docname}.html", wait_until="load")
        assert response is not None and response.ok, f"{docname}.html was not built"
        has_mathjax = page.evaluate("() => window.MathJax !== undefined")
        if has_mathjax:  # Sphinx loads MathJax only on pages with math; wait until it is done
            page.wait_for_function("() => window.MathJax.startup && window.MathJax.startup.promise")
            page.evaluate("() => window.MathJax.startup.promise")
        page.wait_for_load_state("networkidle")
        facts = page.evaluate(
            """() => {
              const math = [...document.querySelectorAll('.math')];  // nav and footer too
              const images = [...document.querySelectorAll('img')];
              const figures = [...document.querySelectorAll('main .cell_output img')];
              return {
                math: document.querySelectorAll('article .math').length,
                untypeset: math.filter(e => !e.querySelector('mjx-container'))
                                .map(e => e.textContent),
                mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
                brokenImages: images.filter(i => !(i.complete && i.naturalWidth > 0))
                                    .map(i => i.getAttribute('src')),
                figures: figures.length,
                liveWidgets: document.querySelectorAll(
                  'script[type="application/vnd.jupyter.widget-view+json"]').length,
                colab: [...document.querySelectorAll('a[href*="colab.research.google.com"]')]
                         .map(a => a.href),
                // the page's prose as a reader sees it: code and printed output left out
                prose: (() => {
                  const main = document.querySelector('main').cloneNode(true);
                  main.querySelectorAll('pre, code, mjx-container, .MathJax')
                      .forEach(e => e.remove());
                  return main.textContent;
                })(),
              };
            }"""
        )
        # The screenshot first: the toggle checks below click and scroll the page.
        page.screenshot(path=str(ARTIFACTS / f"{docname.replace('/', '__')}.png"), full_page=True)
        dropdowns = check_solution_toggles(page)
        title = page.title()
    finally:
        context.close()

    assert title == expected_title(docname), f"page title {title!r}"
    if docname not in PAGES_WITHOUT_MATH:
        assert facts["math"] > 0, (
            f"{docname}: no math on the page (expected the lecture's equations)"
        )
    assert not facts["untypeset"], (
        f"{docname}: math left untypeset by MathJax: {facts['untypeset']}"
        + (
            ""
            if has_mathjax
            else " (Sphinx loads MathJax only on pages with math of their own, so math in a "
            "title shows raw in other pages' navigation: keep $...$ out of chapter titles)"
        )
    )
    assert not facts["mathErrors"], f"{docname}: MathJax errors: {facts['mathErrors']}"
    assert not facts["brokenImages"], (
        f"{docname}: images that did not load: {facts['brokenImages']}"
    )
    if docname.startswith("chapters/"):
        assert facts["figures"] > 0, f"{docname}: a chapter page with no figure output"
        source = source_of(docname).relative_to(ROOT).as_posix()
        repository = CONFIG["repository"]["url"].removeprefix("https://github.com/")
        colab = f"https://colab.research.google.com/github/{repository}/blob/{CONFIG['repository']['branch']}/{source}"
        assert colab in facts["colab"], f"{docname}: no Colab launch link {colab}: {facts['colab']}"
    unrendered = [
        f"{what}: ...{facts['prose'][max(0, m.start() - 40) : m.end() + 40]!r}..."
        for what, pattern in UNRENDERED_MARKUP.items()
        for m in re.finditer(pattern, facts["prose"])
    ]
    assert not unrendered, f"{docname}: Markdown or MyST left unrendered in the page's text:\n" + (
        "\n".join(unrendered)
    )
    assert facts["liveWidgets"] == 0, (
        f"{docname}: {facts['liveWidgets']} live widget(s) on the page; the website has no kernel, "
        "so an explorer's cell must be tagged remove-output and followed by a static figure"
    )
    assert dropdowns["broken"] == [], f"{docname}: solution toggles that do not work: {dropdowns}"
    assert not console_errors, (
        f"{docname}: browser console errors:\n"
        + "\n".join(console_errors)
        + (
            f"\nexternal requests the page made (aborted, no internet): {blocked}"
            if blocked
            else ""
        )
    )


def check_solution_toggles(page) -> dict:
    """Every ``{admonition} ... :class: dropdown`` starts hidden and opens on a click."""
    dropdowns = page.locator("main .admonition.dropdown")
    broken = []
    for index in range(dropdowns.count()):
        dropdown = dropdowns.nth(index)
        title = dropdown.locator(".admonition-title").inner_text().strip()
        body = dropdown.locator(":scope > :not(.admonition-title):not(button)").first
        if body.count() == 0 or body.is_visible():
            broken.append(f"{title!r} is not hidden before a click")
            continue
        button = dropdown.locator("button.toggle-button")
        if button.count() == 0:
            broken.append(f"{title!r} has no toggle button")
            continue
        button.first.click()
        page.wait_for_timeout(300)  # the toggle's CSS transition
        if not body.is_visible():
            broken.append(f"{title!r} stays hidden after a click")
    return {"count": dropdowns.count(), "broken": broken}


def test_the_site_needs_no_network_but_mathjax(built_site):
    """Static check of the HTML: the only external script or stylesheet is MathJax."""
    loads = re.compile(
        r'<script[^>]+src="(https?://[^"]+)"|<link[^>]+rel="stylesheet"[^>]+href="(https?://[^"]+)"'
    )
    external = set()
    for page in built_site.rglob("*.html"):
        for match in loads.finditer(page.read_text()):
            url = match.group(1) or match.group(2)
            if not url.startswith(MATHJAX_PREFIX):
                external.add(f"{page.relative_to(built_site)}: {url}")
    assert not external, "pages load external resources:\n" + "\n".join(sorted(external))


def test_built_pages_match_the_toc(built_site):
    missing = [name for name in PAGES if not (built_site / f"{name}.html").exists()]
    assert not missing, f"pages in _toc.yml that were not built: {missing}"
