"""The website as readers use it: build the book strictly, then check every page of ``_toc.yml``
in headless Chromium and the built HTML itself.

* Every page, at desktop (1280 px) and phone (390 px) widths, in light and dark mode: the
  title, typeset math, no horizontal overflow of figures or tables, no markup left unrendered,
  no console error, and no request outside the site (MathJax is served from the site's own
  ``_static/mathjax/``; any other request is aborted and fails the test). Screenshots of every
  variant go to ``test-artifacts/site/``.
* Every page opened from disk (``file://``) typesets its math: the site needs no server.
* Chapter pages: figures, working solution toggles, the expected run time under the title, the
  ``.ipynb`` download and the Colab launch link to the right notebook on the configured branch.
* Every internal link of every built page resolves, anchors included.
* The reference pages: the API lists each public name of rnnlib with a link to the chapter that
  introduces it; the notation page has the lecture's symbols; the glossary the lecture's terms;
  the status page a row per chapter and the versions of the build.
* The chapters are ``tools/link_terms.py``'s output, and their pages link the glossary and the API.
* Explorers work with no kernel: on every chapter page with an explorer, at both widths and in
  both themes, moving each slider (or menu) swaps the figure, its alt text and its caption, and
  the value under the slider and the caption change together.
* Accessibility: axe-core (``axe-playwright-python``'s copy, injected into the page: no network)
  finds no serious or critical violation on any page, at both widths, in both themes; every
  figure of a chapter has alt text that says what it shows.
* The lecture page lists every point of the lecture's outline (``tests/book/lecture-outline.md``),
  each linked to the book's section or saying that the book does not cover it.
* Page weights (HTML and what a page loads on opening) stay reasonable
  (``test-artifacts/site/page-weights.txt``).

The build goes to the repository's ``_build`` (not a temporary folder) on purpose: the book build
that CI runs after the tests then reuses the executed notebooks in ``_build/.jupyter_cache``. It is
made once per test run, also under pytest-xdist (the first worker builds, the others wait for it
and reuse it); ``RNNLIB_BUILT_SITE=_build/html`` tests an existing build without building
(whoever sets it vouches that the build is of the current sources).
"""

from __future__ import annotations

import fcntl
import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

from tools import link_terms, rnnlib_names

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_extensions"))
from explorer_slider import EXPLORER_CALL  # noqa: E402

HTML = ROOT / "_build" / "html"
#: A built site to test as it is, instead of building (e.g. ``_build/html`` of a current build).
SITE_VARIABLE = "RNNLIB_BUILT_SITE"
ARTIFACTS = ROOT / "test-artifacts" / "site"
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
PAGES = list(parse_toc_yaml(ROOT / "_toc.yml"))
CHAPTERS = [page for page in PAGES if page.startswith("chapters/")]
#: The widths a reader's screen has: a laptop and a phone (an iPhone 12-15 is 390 px wide).
WIDTHS = {"desktop": 1280, "phone": 390}
SCHEMES = ["light", "dark"]
#: Markup that must never reach a reader as text (e.g. a table printed with display(Markdown)
#: that the site does not parse): a citation role, a Markdown table row, display-math fences.
UNRENDERED_MARKUP = {
    "a {cite} role": r"\{cite(:[a-z]+)?\}",
    "a Markdown table row": r"\|\s*:?-{3,}",
    "display math fences": r"\$\$",
    "a MyST role (e.g. an unresolved {glue:text} or {term})": r"\{[a-z]+(:[a-z]+)?\}`",
    "a code or directive fence": r"```|:::",
    "a reStructuredText role (a docstring's :class: or :math:)": r"(?<![\w:]):[a-z]+:`",
}
#: Pages that carry no math by nature; every other page must show some.
PAGES_WITHOUT_MATH = {"references", "status"}
#: The lecture's symbols that the notation page must list (as TeX, the way its math is written).
NOTATION_SYMBOLS = [
    r"h^{(t)}",
    r"x^{(t)}",
    r"c^{(t)}",
    r"W_h",
    r"W_x",
    r"U_f",
    r"U_u",
    r"f^{(t)}",
    r"i^{(t)}",
    r"o^{(t)}",
    r"u^{(t)}",
    r"r^{(t)}",
    r"\tilde c^{(t)}",
    r"\tilde h^{(t)}",
    r"\rho",
    r"\gamma",
    r"J^{(t)}",
    r"\sigma",
    r"\theta",
    r"\alpha",
]
#: The lecture's terms that the glossary must define (issue 13's list).
GLOSSARY_TERMS = [
    "vanishing gradient",
    "exploding gradient",
    "spectral radius",
    "Jacobian",
    "gate",
    "cell state",
    "gradient clipping",
    "residual connection",
    "dense connection",
    "highway connection",
    "bidirectional RNN",
    "stacked RNN",
    "contextual representation",
]


def source_of(docname: str, root: Path = ROOT) -> Path:
    for suffix in (".ipynb", ".md", ".rst"):
        if (root / f"{docname}{suffix}").exists():
            return root / f"{docname}{suffix}"
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but no .ipynb, .md or .rst exists")


def expected_title(docname: str) -> str:
    """The page's first level-1 heading as the browser's tab shows it, then the book's title."""
    path = source_of(docname)
    if path.suffix == ".ipynb":
        markdown = [
            c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
        ]
        match = re.search(r"^# (.+)$", "\n".join(markdown), flags=re.MULTILINE)
    elif path.suffix == ".rst":
        match = re.search(r"^(.+)\n=+$", path.read_text(), flags=re.MULTILINE)
    else:
        match = re.search(r"^# (.+)$", path.read_text(), flags=re.MULTILINE)
    assert match, f"{path.name} has no level-1 heading, so its page has no title"
    heading = re.sub(r"\$([^$]+)\$", r"\\(\1\\)", match.group(1).strip())  # Sphinx keeps TeX
    heading = re.sub(r"[`*]", "", heading)
    return f"{heading} \N{EM DASH} {CONFIG['title']}"


def build(root: Path, log_file: Path | None = None) -> str:
    """Build the book in ``root`` as CI does (strict: any warning fails); return the log."""
    jupyter_book = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    command = [jupyter_book, "build", "--all", str(root), "-W", "-n", "--keep-going"]
    environment = {**os.environ, "TQDM_DISABLE": "1"}  # as scripts/build.sh: no dead widgets
    result = subprocess.run(command, capture_output=True, text=True, cwd=root, env=environment)
    log = result.stdout + result.stderr
    if log_file is not None:
        log_file.write_text(log)
    if result.returncode != 0:
        problems = [line for line in log.splitlines() if re.search(r"WARNING|ERROR|Error", line)]
        pytest.fail(
            "the strict book build in {} failed (exit code {}); warnings and errors:\n{}".format(
                root, result.returncode, "\n".join(problems[-40:]) or log[-4000:]
            )
        )
    return log


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The book built strictly into _build/html (log in test-artifacts/site/build.log), once per
    test run: under pytest-xdist the first worker to get here builds while the others wait on a
    lock, and a stamp with the run's id tells them the build is done (or failed). With
    ``RNNLIB_BUILT_SITE`` set, that folder is tested as it is."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    given = os.environ.get(SITE_VARIABLE)
    if given:
        site = Path(given).resolve()
        if not (site / "index.html").is_file():
            pytest.fail(f"{SITE_VARIABLE}={given}: no built site there (no index.html)")
        return site
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:  # one process: this session is the run
        build(ROOT, ARTIFACTS / "build.log")
        return HTML
    (ROOT / "_build").mkdir(exist_ok=True)
    stamp = ROOT / "_build" / ".site-test-run"
    with open(ROOT / "_build" / ".site-test-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = stamp.read_text().split() if stamp.is_file() else []
        if done[:1] != [run]:
            stamp.write_text(f"{run} failed\n")  # until the build succeeds
            build(ROOT, ARTIFACTS / "build.log")
            stamp.write_text(f"{run} built\n")
        elif done[1:] != ["built"]:
            pytest.fail("the book build of this test run failed (test-artifacts/site/build.log)")
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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- opening a page ------------------------------------------------------------------------------
class OpenPage:
    """A page in a fresh browser context, with its console errors, failed and outside requests.

    Opening waits for the ``load`` event (every image, script and style of the page) and for
    MathJax to finish typesetting; the checks run on that page. Waiting for the network to go
    quiet (no request for 500 ms) happens in :meth:`problems`, before the requests are read, so
    a request that the page makes late is still caught, and a test that does seconds of work on
    the page (an accessibility audit) does not first sit idle for that half second."""

    def __init__(self, browser, url: str, site: str, width: int = 1280, scheme: str = "light"):
        self.context = browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme
        )
        self.page = self.context.new_page()
        self.console_errors: list[str] = []
        self.outside: list[str] = []  # requests for anything that is not the site's own file
        self.failed: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.route("**/*", functools.partial(self._only_the_site, site))
        self.response = self.page.goto(url, wait_until="load")
        if self.page.evaluate("() => window.MathJax !== undefined"):  # only pages with math
            self.page.wait_for_function(
                "() => window.MathJax.startup && window.MathJax.startup.promise"
            )
            self.page.evaluate("() => window.MathJax.startup.promise")
        # quiet network before any check (as every run before the merged round did): a page
        # that is still loading when problems() asks would have to settle under load then
        self.page.wait_for_load_state("networkidle")

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url')})")

    def _only_the_site(self, site: str, route) -> None:
        url = route.request.url
        if url.startswith(site) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()

    def problems(self) -> list[str]:
        """Console errors and failed or outside requests, once the network has been quiet for
        500 ms (Playwright's ``networkidle``; at once if it already was)."""
        self.page.wait_for_load_state("networkidle")
        found = [f"console error: {error}" for error in self.console_errors]
        found += [
            f"request outside the site (the page must need no network): {u}" for u in self.outside
        ]
        found += [f"request failed: {url}" for url in self.failed if url not in self.outside]
        return found


MATH_FACTS = """() => {
  const math = [...document.querySelectorAll('.math')];  // nav and footer too
  return {
    math: document.querySelectorAll('article .math').length,
    untypeset: math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent),
    mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent),
    brokenImages: [...document.querySelectorAll('img')]
      .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  };
}"""

PAGE_FACTS = """() => {
  const figures = [...document.querySelectorAll('main .cell_output img')];
  return {
    figures: figures.length,
    liveWidgets: document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]').length,
    // the page's prose as a reader sees it: code and printed output left out
    prose: (() => {
      const main = document.querySelector('main').cloneNode(true);
      main.querySelectorAll('pre, code, mjx-container, .MathJax').forEach(e => e.remove());
      return main.textContent;
    })(),
  };
}"""

#: What sticks out sideways: the page itself, or a figure, table, equation or block of code that
#: is wider than the article and not inside a wrapper that scrolls it.
OVERFLOW = """() => {
  const root = document.documentElement;
  const problems = [];
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth} px > ${root.clientWidth} px`);
  }
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const box = article.getBoundingClientRect();
  const scroller = element => {
    for (let p = element.parentElement; p && p !== article.parentElement; p = p.parentElement) {
      const overflow = getComputedStyle(p).overflowX;
      if (overflow === 'auto' || overflow === 'scroll') return p;
    }
    return null;
  };
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '');
  const selector = 'img, table, figure, svg, pre, mjx-container, .cell_output, .admonition, ' +
                   '.highlight, dl, iframe, video';
  for (const element of article.querySelectorAll(selector)) {
    const r = element.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // hidden (e.g. a closed solution)
    if (r.right <= box.right + 1 && r.left >= box.left - 1) continue;
    const wrapper = scroller(element);
    if (wrapper) {
      const w = wrapper.getBoundingClientRect();
      if (w.right <= box.right + 1 && w.left >= box.left - 1) continue;
    }
    problems.push(`${name(element)} spans ${Math.round(r.left)}-${Math.round(r.right)} px, ` +
                  `the article ${Math.round(box.left)}-${Math.round(box.right)} px`);
  }
  return problems;
}"""


def screenshot_name(docname: str, variant: str) -> Path:
    return ARTIFACTS / f"{docname.replace('/', '__')}--{variant}.png"


def full_page_screenshot(opened: OpenPage, path: Path) -> None:
    """The whole page as a PNG (what Playwright's ``full_page=True`` takes), with Chromium's
    fast PNG encoding: half the time on a long page, for a somewhat larger file."""
    import base64

    cdp = opened.context.new_cdp_session(opened.page)
    try:
        content = cdp.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": content["width"], "height": content["height"]}
        shot = cdp.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "optimizeForSpeed": True,
                "captureBeyondViewport": True,
                "clip": {**clip, "scale": 1},
            },
        )
    finally:
        cdp.detach()
    path.write_bytes(base64.b64decode(shot["data"]))


#: axe-core impacts that fail the test; "moderate" and "minor" ones are reported only.
FAILING_IMPACTS = ("serious", "critical")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("docname", PAGES)
def test_page_fits_the_screen_and_has_no_serious_accessibility_violation(
    browser, site_url, docname, width, scheme
):
    """Two checks on one opening of the page at this width in this colour scheme (math typeset,
    theme applied, the network quiet), one after the other, each reported under its own name:

    * fits the screen: the theme follows the reader's scheme; nothing overflows sideways; all
      math typeset without MathJax errors; every image loaded; no console error and no request
      outside the site. A full-page screenshot goes to test-artifacts/site/.
    * accessibility: axe-core, the engine of browsers' accessibility audits (its default rules,
      injected from ``axe-playwright-python``'s copy: no network), finds no serious or critical
      violation; its counts per rule go to test-artifacts/site/axe/.
    """
    from axe_playwright_python.sync_playwright import Axe

    opened = OpenPage(browser, f"{site_url}/{docname}.html", site_url, WIDTHS[width], scheme)
    try:
        assert opened.response is not None and opened.response.ok, f"{docname}.html was not built"
        theme = opened.page.evaluate("() => document.documentElement.dataset.theme")
        facts = opened.page.evaluate(MATH_FACTS)
        overflow = opened.page.evaluate(OVERFLOW)
        full_page_screenshot(opened, screenshot_name(docname, f"{width}-{scheme}"))
        problems = opened.problems()
        # last: axe fetches the page's stylesheets itself, a request that is axe's, not the page's
        violations = Axe().run(opened.page).response["violations"]
    finally:
        opened.close()

    report = ARTIFACTS / "axe" / f"{docname.replace('/', '__')}--{width}-{scheme}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    counts = {f"{v['impact']} {v['id']}": len(v["nodes"]) for v in violations}
    report.write_text(json.dumps(counts, indent=1, sort_keys=True))

    fits = []
    if theme != scheme:
        fits.append(f"the theme is {theme!r} for a reader who prefers {scheme}")
    fits += [f"overflows sideways: {line}" for line in overflow]
    if facts["untypeset"]:
        fits.append(f"math left untypeset: {facts['untypeset']}")
    if facts["mathErrors"]:
        fits.append(f"MathJax errors: {facts['mathErrors']}")
    if facts["brokenImages"]:
        fits.append(f"images that did not load: {facts['brokenImages']}")
    fits += problems
    accessibility = [
        f"{v['impact']} {v['id']} ({len(v['nodes'])}x): {v['help']}; e.g. "
        + "; ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]
    failed = [f"[fits the screen] {line}" for line in fits]
    failed += [f"[accessibility, axe-core] {line}" for line in accessibility]
    assert not failed, f"{docname} at {width} width, {scheme}:\n" + "\n".join(failed)


@pytest.mark.parametrize("docname", PAGES)
def test_page_renders_with_title_math_figures_and_no_console_errors(browser, site_url, docname):
    opened = OpenPage(browser, f"{site_url}/{docname}.html", site_url)
    try:
        math = opened.page.evaluate(MATH_FACTS)
        facts = opened.page.evaluate(PAGE_FACTS)
        dropdowns = check_solution_toggles(opened.page)
        title = opened.page.title()
        problems = opened.problems()
    finally:
        opened.close()

    assert title == expected_title(docname), f"page title {title!r}"
    if docname not in PAGES_WITHOUT_MATH:
        assert math["math"] > 0, (
            f"{docname}: no math on the page (expected the lecture's equations)"
        )
    assert not math["untypeset"], (
        f"{docname}: math left untypeset by MathJax: {math['untypeset']} (Sphinx loads MathJax "
        "only on pages with math of their own, so math in a title shows raw in other pages' "
        "navigation: keep $...$ out of chapter titles)"
    )
    if docname.startswith("chapters/"):
        assert facts["figures"] > 0, f"{docname}: a chapter page with no figure output"
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
        "so an explorer's cell must be tagged remove-output (the build puts its slider there)"
    )
    assert dropdowns["broken"] == [], f"{docname}: solution toggles that do not work: {dropdowns}"
    assert not problems, f"{docname}:\n" + "\n".join(problems)


#: How long a solution toggle may take to show its body after a click.
TOGGLE_OPENS_MS = 1000


def check_solution_toggles(page) -> dict:
    """Every ``{admonition} ... :class: dropdown`` starts hidden and opens on a click."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

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
        try:  # the toggle's CSS transition takes 300 ms or so
            body.wait_for(state="visible", timeout=TOGGLE_OPENS_MS)
        except PlaywrightTimeout:
            broken.append(f"{title!r} stays hidden {TOGGLE_OPENS_MS} ms after a click")
    return {"count": dropdowns.count(), "broken": broken}


@pytest.mark.parametrize("docname", PAGES)
def test_page_works_opened_from_disk(browser, built_site, docname):
    """No server at all: a reader opens the page from a folder (``file://``)."""
    opened = OpenPage(browser, (built_site / f"{docname}.html").as_uri(), built_site.as_uri())
    try:
        facts = opened.page.evaluate(MATH_FACTS)
        problems = opened.problems()
    finally:
        opened.close()
    if docname not in PAGES_WITHOUT_MATH:
        assert facts["math"] > 0, f"{docname}: no math on the page opened from disk"
    assert not facts["untypeset"], f"{docname} from disk: math left untypeset: {facts['untypeset']}"
    assert not facts["brokenImages"], (
        f"{docname} from disk: images missing: {facts['brokenImages']}"
    )
    assert not problems, f"{docname} from disk:\n" + "\n".join(problems)


# --- the built HTML ------------------------------------------------------------------------------
class Anchors(html.parser.HTMLParser):
    """The ids of a page and the URLs it links to or loads (a, img, script, link)."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for key in ("id", "name"):
            if attributes.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attributes[key])
        for key in ("href", "src"):
            if attributes.get(key) and tag in ("a", "img", "script", "link", "iframe", "source"):
                self.urls.append((tag, attributes[key]))


@functools.cache
def parse(page: Path) -> Anchors:
    parser = Anchors()
    parser.feed(page.read_text())
    return parser


def broken_links(page: Path, site: Path) -> list[str]:
    """The links and resources of a built page that point to no file of the site, or to an
    anchor that the file lacks (links outside the site are not followed)."""
    broken = []
    for tag, url in parse(page).urls:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:")):
            continue  # outside the site: not followed (the browser test blocks loading any)
        target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        where = f"{page.relative_to(site)}: <{tag}> {url}"
        if not target.is_file():
            broken.append(f"{where}: no such file")
        elif (
            parts.fragment
            and target.suffix == ".html"
            and unquote(parts.fragment) not in parse(target).ids
        ):
            broken.append(f"{where}: no anchor #{parts.fragment} in {target.name}")
    return broken


def test_every_internal_link_resolves(built_site):
    """Every link and resource of every built page points to a file of the site, and to an
    anchor that exists in it (what a link checker does, for internal links)."""
    broken = []
    for page in sorted(built_site.rglob("*.html")):
        if page.relative_to(built_site).parts[0] in ("_static", "_sources", "_images"):
            continue
        broken += broken_links(page, built_site)
    assert not broken, f"{len(broken)} internal link(s) do not resolve:\n" + "\n".join(broken[:50])


def test_the_site_loads_nothing_from_outside(built_site):
    """Static check of every page: no script, stylesheet, image or frame from another site;
    MathJax comes from the site's own _static/mathjax/."""
    external = set()
    for page in built_site.rglob("*.html"):
        for tag, url in parse(page).urls:
            if tag != "a" and urlsplit(url).scheme in ("http", "https"):
                external.add(f"{page.relative_to(built_site)}: <{tag}> {url}")
    assert not external, "pages load external resources:\n" + "\n".join(sorted(external))
    mathjax = CONFIG["sphinx"]["config"]["mathjax_path"]
    assert not urlsplit(mathjax).scheme, f"mathjax_path is a URL: {mathjax}"
    assert (built_site / "_static" / mathjax).is_file(), f"_static/{mathjax} is not in the site"
    chapter = (built_site / f"{CHAPTERS[0]}.html").read_text()
    assert f'src="../_static/{mathjax}' in chapter, "a chapter page does not load the local MathJax"


def test_built_pages_match_the_toc(built_site):
    missing = [name for name in PAGES if not (built_site / f"{name}.html").exists()]
    assert not missing, f"pages in _toc.yml that were not built: {missing}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_page_offers_the_notebook_and_colab(built_site, docname):
    """The .ipynb download is the chapter's own notebook, and the Colab button opens that
    notebook's path in the repository on the branch that _config.yml names."""
    page = built_site / f"{docname}.html"
    urls = [url for tag, url in parse(page).urls if tag == "a"]
    source = source_of(docname).relative_to(ROOT).as_posix()

    downloads = [url for url in urls if url.endswith(".ipynb") and not urlsplit(url).scheme]
    assert downloads, f"{docname}: no .ipynb download link on the page"
    downloaded = (page.parent / downloads[0]).resolve()
    assert downloaded.is_file(), f"{docname}: the download link {downloads[0]} has no file"
    assert nbformat.read(downloaded, as_version=4) == nbformat.read(ROOT / source, as_version=4)

    repository = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    branch = CONFIG["repository"]["branch"]
    colab = f"https://colab.research.google.com/github/{repository}/blob/{branch}/{source}"
    colab_links = [url for url in urls if url.startswith("https://colab.research.google.com/")]
    assert colab_links == [colab], f"{docname}: Colab links {colab_links}, expected [{colab}]"
    notebook_path = colab.split(f"/blob/{branch}/", 1)[1]
    assert (ROOT / notebook_path).is_file(), f"the Colab link opens {notebook_path}, not a file"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_page_states_its_run_time_under_the_title(built_site, docname):
    text = (built_site / f"{docname}.html").read_text()
    article = text[text.index('<article class="bd-article">') :]
    match = re.search(r"</h1>\s*<p class=\"chapter-run-time\">(.*?)</p>", article, re.DOTALL)
    assert match, f"{docname}: no run-time line right under the title"
    line = re.sub(r"<[^>]+>", "", match.group(1))
    assert re.search(r"Expected run time: about \d+(\.\d)? (s|min) on \w", line), line
    assert 'href="../status.html"' in match.group(1), f"{docname}: the line does not link status"


def test_status_page_lists_every_chapter_and_the_versions(built_site):
    text = (built_site / "status.html").read_text()
    table = re.search(r'<table class="[^"]*chapter-execution-status.*?</table>', text, re.DOTALL)
    assert table, "status page: no table of the chapters' execution"
    rows = re.findall(r"<tr.*?</tr>", table.group(0), re.DOTALL)
    for chapter in CHAPTERS:
        row = next((r for r in rows if f'href="{chapter}.html"' in r), None)
        assert row, f"status page: no row for {chapter}"
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td.*?</td>", row, re.S)]
        assert re.fullmatch(r"\d+\.\d", cells[1]), f"{chapter}: run time {cells[1]!r}"
        assert cells[3] == "passed", f"{chapter}: status {cells[3]!r}"
        assert cells[4].startswith(("CPU", "GPU", "Apple")), f"{chapter}: device {cells[4]!r}"
    environment = re.search(r'<table class="[^"]*build-environment.*?</table>', text, re.DOTALL)
    assert environment, "status page: no table of the build's versions"
    versions = re.sub(r"<[^>]+>", " ", environment.group(0))
    for package in ("Python", "torch", "numpy", "rnnlib", "jupyter-book", "MathJax"):
        assert re.search(rf"\b{re.escape(package)}\s+\d", versions), f"no version of {package}"


def test_claims_page_lists_every_claim_with_its_line_calibration_and_chapter_link(built_site):
    """Every claim a chapter's code makes has a row on the Claims page, linked to the line it
    printed in the chapter; statistical rows show a calibrated range and a failure rate within
    the budget; each chapter links to its part of the page."""
    sys.path.insert(0, str(ROOT / "tests" / "lib"))  # also when this file runs alone
    from test_calibration import claim_calls, claim_name

    text = (built_site / "claims.html").read_text()
    assert re.search(r'<table class="[^"]*claims-summary', text), "claims page: no summary table"
    for chapter in CHAPTERS:
        path = source_of(chapter)
        number = Path(chapter).name[:2]
        for function, call in claim_calls(path):
            name = claim_name(call)
            href = f'href="{chapter}.html#claim-{name.replace(".", "-").replace("_", "-")}"'
            row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(href)}.*?</tr>", text, re.S)
            assert row, f"claims page: no row linking {name} to its line in {chapter}"
            cells = re.findall(r"<td.*?</td>", row[0], re.S)
            cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
            if function == "claim":
                assert cells[2] == "statistical" and "draws" in cells[5], f"{name}: {cells}"
                assert float(cells[6]) <= 1e-4, f"{name}: failure rate {cells[6]}"
            else:
                assert cells[2] == "exact", f"{name}: {cells}"
        page = (built_site / f"{chapter}.html").read_text()
        assert f"claims.html#claims-ch{number}" in page, f"{chapter} does not link its claims"


def test_api_reference_lists_every_public_name_with_its_chapter(built_site):
    text = (built_site / "api.html").read_text()
    ids = parse(built_site / "api.html").ids
    missing = [name for name in rnnlib_names.public_targets() if name not in ids]
    assert not missing, f"public names the API reference lacks: {missing}"
    for module in rnnlib_names.modules():
        assert f"module-{module}" in ids, f"no section for {module}"
    chapters = sorted(ROOT / f"{name}.ipynb" for name in CHAPTERS)
    uses = rnnlib_names.first_chapters(chapters)
    wrong = []
    for name in rnnlib_names.public_targets():
        start = text.index(f'id="{name}"')
        end = text.find('<dt class="sig sig-object py" id=', start + 1)
        entry = text[start:end]  # up to the next documented object (a method, or the next name)
        line = re.search(r"rnnlib-in-the-book.*?</p>", entry, re.DOTALL)
        if line is None:
            wrong.append(f"{name}: no 'In the book' line")
            continue
        first = uses.get(name, [None])[0]
        if first is None:
            if "not used in a chapter yet" not in line.group(0):
                wrong.append(f"{name}: used by no chapter, but the line says otherwise")
        elif not re.search(rf"introduced in <a [^>]*href=\"chapters/{first.stem}\.html\"", line[0]):
            wrong.append(f"{name}: the line does not link chapters/{first.stem}")
    assert not wrong, "API entries without the right chapter link:\n" + "\n".join(wrong)


def test_notation_page_lists_the_lecture_symbols_with_shape_and_chapter(built_site):
    text = (built_site / "notation.html").read_text()
    tex = " ".join(
        html.unescape(m) for m in re.findall(r'<span class="math[^"]*">(.*?)</span>', text)
    )
    missing = [symbol for symbol in NOTATION_SYMBOLS if symbol not in tex]
    assert not missing, f"symbols missing from the notation page: {missing}"
    for row in re.findall(r"<tbody>.*?</tbody>", text, re.DOTALL):
        for cells in re.findall(r"<tr.*?</tr>", row, re.DOTALL):
            assert re.search(r'href="chapters/\d\d_\w+\.html"', cells), (
                f"a notation row without the chapter that introduces it: {cells[:200]}"
            )
            assert len(re.findall(r"<td", cells)) == 4, f"a row without a shape column: {cells}"


def test_glossary_defines_the_lecture_terms(built_site):
    ids = parse(built_site / "glossary.html").ids
    missing = [term for term in GLOSSARY_TERMS if f"term-{term.replace(' ', '-')}" not in ids]
    assert not missing, f"terms the glossary lacks: {missing}"


def test_chapter_pages_are_linked_to_the_glossary_and_the_api(built_site):
    """The chapters are tools/link_terms.py's output (it finds nothing left to link), so the
    strict build above is the build of the linked book; and every chapter page links to the
    glossary and to the API. (tests/book/test_link_terms.py checks that linking touches Markdown
    only and is idempotent, so it never invalidates the execution cache.)"""
    chapters = [source_of(name) for name in CHAPTERS]
    assert link_terms.main(["--check", *map(str, chapters)]) == 0, (
        "some chapters are not linked: run `python -m tools.link_terms chapters/*.ipynb`"
    )
    for name in CHAPTERS:
        text = (built_site / f"{name}.html").read_text()
        assert re.search(r'href="\.\./glossary\.html#term-', text), f"{name}: no glossary link"
        assert re.search(r'href="\.\./api\.html#rnnlib', text), f"{name}: no API link"


# --- explorers on the website --------------------------------------------------------------------
def explorer_count(docname: str) -> int:
    """How many explorers a chapter makes: its code cells that call ``explorer(``."""
    path = source_of(docname)
    if path.suffix != ".ipynb":
        return 0
    cells = nbformat.read(path, as_version=4).cells
    return sum(c.cell_type == "code" and bool(EXPLORER_CALL.search(c.source)) for c in cells)


EXPLORER_CHAPTERS = [name for name in CHAPTERS if explorer_count(name)]

EXPLORER_STATE = """root => {
  const image = root.querySelector('img');
  return {
    src: image.getAttribute('src'),
    alt: image.alt,
    loaded: image.complete && image.naturalWidth > 0,
    caption: root.querySelector('figcaption').textContent,
    // what each control shows: a slider's value under it, a menu's chosen option
    values: [...root.querySelectorAll('[data-control]')].map(c => c.tagName === 'SELECT'
      ? c.options[c.selectedIndex].textContent
      : root.querySelector('#' + c.id + '-value').textContent),
    labels: [...root.querySelectorAll('[data-control]')].map(c => c.labels[0].textContent),
  };
}"""


def move(control) -> None:
    """Move a control as a reader does: a slider to its other end with the keyboard, a menu to
    another option."""
    if control.evaluate("e => e.tagName") == "SELECT":
        index = control.evaluate("e => e.selectedIndex")
        control.select_option(index=0 if index else 1)
        return
    at_end = control.evaluate("e => e.value === e.max")
    control.focus()
    control.press("Home" if at_end else "End")


def explorer_problems(page, root, name: str) -> list[str]:
    """Move each control of one explorer; the figure, its alt text, its caption and the value
    under the slider must all change, and the caption must name the slider's value."""
    problems = []
    controls = root.locator("[data-control]")
    if controls.count() == 0:
        return [f"{name}: no slider"]
    for index in range(controls.count()):
        before = root.evaluate(EXPLORER_STATE)
        move(controls.nth(index))
        page.wait_for_function(
            "root => { const i = root.querySelector('img'); return i.complete && i.naturalWidth }",
            arg=root.element_handle(),
        )
        after = root.evaluate(EXPLORER_STATE)
        what = f"{name}, control {after['labels'][index]!r}"
        for key in ("src", "alt", "caption"):
            if before[key] == after[key]:
                problems.append(f"{what}: the figure's {key} did not change: {after[key]!r}")
        if not after["loaded"]:
            problems.append(f"{what}: the new frame {after['src']} did not load")
        for label, value in zip(after["labels"], after["values"], strict=False):
            if f"{label} = {value}" not in after["caption"]:
                problems.append(f"{what}: the caption does not say {label} = {value}")
        if before["values"][index] == after["values"][index]:
            problems.append(f"{what}: the value it shows did not change")
    return problems


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("docname", EXPLORER_CHAPTERS)
def test_explorer_sliders_change_the_figure_without_a_kernel(
    browser, site_url, docname, width, scheme
):
    opened = OpenPage(browser, f"{site_url}/{docname}.html", site_url, WIDTHS[width], scheme)
    try:
        explorers = opened.page.locator(".rnnlib-explorer")
        found = explorers.count()
        problems = []
        for index in range(found):
            root = explorers.nth(index)
            root.scroll_into_view_if_needed()
            problems += explorer_problems(opened.page, root, f"explorer {index + 1}")
            root.screenshot(
                path=str(screenshot_name(docname, f"explorer{index + 1}-{width}-{scheme}"))
            )
        problems += opened.problems()
    finally:
        opened.close()
    expected = explorer_count(docname)
    assert found == expected, f"{docname}: {found} explorer slider(s) for {expected} explorer(s)"
    assert not problems, f"{docname} at {width} width, {scheme}:\n" + "\n".join(problems)


# --- accessibility -------------------------------------------------------------------------------
#: Alt text that says nothing about the figure (MyST-NB's default is the image's path).
GENERIC_ALT = re.compile(
    r"^\s*((an? |the )?(image|figure|plot|graph|chart|picture|output|png|img)\s*\d*)?\s*$"
    r"|\.(png|jpe?g|svg|gif)\s*$|_images/",
    re.IGNORECASE,
)


class Images(html.parser.HTMLParser):
    """The ``alt`` of every ``<img>`` inside the page's ``<article>`` (not the logo)."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.images: list[tuple[str, str | None]] = []  # (src, alt)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article":
            self.depth += 1
        elif tag == "img" and self.depth:
            self.images.append((attributes.get("src", ""), attributes.get("alt")))

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth -= 1


@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_figure_of_a_chapter_has_alt_text(built_site, docname):
    """Each figure's alt text says what it shows (cell metadata ``mystnb.image.alt``), not its
    file name or a generic word."""
    parser = Images()
    parser.feed((built_site / f"{docname}.html").read_text())
    assert parser.images, f"{docname}: no figure in the article"
    missing = [
        f"{src}: alt={alt!r}"
        for src, alt in parser.images
        if alt is None or GENERIC_ALT.search(alt)
    ]
    assert not missing, (
        f"{docname}: {len(missing)} of {len(parser.images)} figures without alt text that says "
        "what they show (set the cell's metadata mystnb.image.alt):\n" + "\n".join(missing)
    )


# --- the lecture page ----------------------------------------------------------------------------
LECTURE_OUTLINE = ROOT / "tests" / "book" / "lecture-outline.md"


def test_lecture_page_links_every_point_of_the_outline(built_site):
    """Every point of the lecture's outline has its item on the lecture page, with a link to the
    book's section that teaches it or the plain statement that the book does not cover it; every
    link of the page resolves, and the points come in the lecture's order."""
    points = re.findall(r"^\|\s*(\d+\.\d+)\s*\|", LECTURE_OUTLINE.read_text(), re.MULTILINE)
    assert len(points) > 50, f"{LECTURE_OUTLINE.name}: only {len(points)} points found"
    page = built_site / "lecture.html"
    text = page.read_text()
    items = {
        m["id"]: m["body"]
        for m in re.finditer(r'<li id="point-(?P<id>\d+-\d+)">(?P<body>.*?)</li>', text, re.S)
    }
    problems = []
    for point in points:
        body = items.get(point.replace(".", "-"))
        if body is None:
            problems.append(f"point {point}: no item on the lecture page")
        elif not (
            re.search(r'href="(chapters/\d\d_\w+|intro)\.html(#[\w-]+)?"', body)
            or "Not covered by the book." in body
        ):
            problems.append(f"point {point}: neither a link to the book nor 'Not covered'")
    order = [tuple(map(int, key.split("-"))) for key in items]
    assert order == sorted(order), "the lecture page's points are not in the lecture's order"
    assert re.search(r'href="claims\.html#claim-ch\d\d-', text), "no link to a claim's row"
    problems += broken_links(page, built_site)
    assert not problems, "lecture page:\n" + "\n".join(problems)


# --- page weight ---------------------------------------------------------------------------------
#: What one page may weigh on opening: its HTML plus the images, scripts and styles it loads.
MOST_PAGE_BYTES = 8_000_000
MOST_HTML_BYTES = 2_000_000


def test_page_weight_stays_reasonable(built_site):
    """Each page's HTML and what it loads on opening (an explorer loads one frame; the others
    only when the slider moves); the table goes to test-artifacts/site/page-weights.txt."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rows, problems = [], []
    for docname in PAGES:
        page = built_site / f"{docname}.html"
        loaded = {
            (page.parent / unquote(urlsplit(url).path)).resolve()
            for tag, url in parse(page).urls
            if tag in ("img", "script", "link") and url and not urlsplit(url).scheme
        }
        files = [f for f in loaded if f.is_file() and f.suffix != ".html"]
        weight = page.stat().st_size + sum(f.stat().st_size for f in files)
        frames = sum(
            f.stat().st_size
            for f in {
                (page.parent / frame).resolve()
                for frame in re.findall(
                    r"(?:\.\./)*_images/explorer-[0-9a-f]+\.png", page.read_text()
                )
            }
        )
        rows.append((docname, page.stat().st_size, weight, frames))
        if page.stat().st_size > MOST_HTML_BYTES:
            problems.append(f"{docname}: the HTML is {page.stat().st_size:,} bytes")
        if weight > MOST_PAGE_BYTES:
            problems.append(f"{docname}: {weight:,} bytes on opening")
    table = ["page  html_bytes  bytes_on_opening  explorer_frames_bytes"]
    table += [f"{d}  {h}  {w}  {f}" for d, h, w, f in sorted(rows, key=lambda r: -r[2])]
    (ARTIFACTS / "page-weights.txt").write_text("\n".join(table) + "\n")
    assert not problems, "pages too heavy:\n" + "\n".join(problems)
