"""The lecture page: each point of the lecture, linked to the section that teaches it and to the
claims that section checks.

``{lecture-points}`` takes one point per line, ``number | where | text``:

* ``where`` is ``-`` (the book does not cover the point), or sections separated by ``;``, each
  ``NN#Heading`` (chapter NN's section with that heading; ``$``, ``*`` and backticks are ignored,
  so ``02#Step 2: the eigenbasis of W_h`` matches "Step 2: the eigenbasis of $W_h$"), ``NN``
  (the chapter itself), or ``intro`` / ``intro#Heading`` (the introduction);
* ``text`` is the point in our own words (MyST: math and emphasis work).

Each point becomes an item (id ``point-1-2``) with links to its sections and to the Claims page's
row of every claim whose printed line lies in one of those sections (``claims_page`` records the
sections around each claim's line). A heading that no longer exists is a warning, so the strict
build fails instead of publishing a link to nowhere.
"""

from __future__ import annotations

import re

from claims_page import CLAIMS_DOC, _breakable_name, anchor, store
from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

LECTURE_DOC = "lecture"
LINE = re.compile(r"^\s*(\d+\.\d+)\s*\|\s*([^|]*?)\s*\|\s*(.+?)\s*$")


class LecturePlacesNode(nodes.General, nodes.Element):
    """Placeholder for a point's links; they are made once every chapter has been read."""


def normalise(title: str) -> str:
    """A heading as compared: no math, emphasis or code markers, straight quotes (the site's
    headings have typographic ones), single spaces."""
    title = title.translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    return " ".join(re.sub(r"[$*`]", "", title).split())


class LecturePoints(SphinxDirective):
    has_content = True

    def run(self):
        points = nodes.bullet_list(classes=["lecture-points"])
        for line in self.content:
            if not line.strip():
                continue
            match = LINE.match(line)
            if not match:
                raise self.error(f"a lecture point is 'number | where | text', not {line!r}")
            number, where, text = match.groups()
            item = nodes.list_item(ids=["point-" + number.replace(".", "-")])
            head = nodes.paragraph()
            head += nodes.strong(text=number + " ")
            head.extend(self.parse_inline(text)[0])
            item += head
            places = [] if where == "-" else [p.strip() for p in where.split(";")]
            item += LecturePlacesNode(places=places)
            points += item
        return [points]


def chapter_docname(env, key: str) -> str | None:
    if key == "intro":
        return "intro" if "intro" in env.found_docs else None
    return next(
        (d for d in sorted(env.found_docs) if d.startswith(f"chapters/{key}_")),
        None,
    )


def sections_of(env, docname: str) -> dict[str, tuple[str, str]]:
    """Every section of a page: normalised heading -> (id, heading as the reader sees it)."""
    cache = env.__dict__.setdefault("_lecture_sections", {})
    if docname not in cache:
        found = {}
        for section in env.get_doctree(docname).findall(nodes.section):
            title = section.next_node(nodes.title)
            if title is not None and section["ids"]:
                found.setdefault(normalise(title.astext()), (section["ids"][0], title.astext()))
        cache[docname] = found
    return cache[docname]


def resolve(env, place: str, location) -> tuple[str, str | None, str] | None:
    """``NN#Heading`` -> (docname, section id or None, link text); None where it is missing."""
    key, _, heading = place.partition("#")
    docname = chapter_docname(env, key.strip())
    if docname is None:
        logger.warning(f"lecture page: no page for {place!r}", location=location)
        return None
    page = env.titles[docname].astext()
    if not heading:
        return docname, None, page
    found = sections_of(env, docname).get(normalise(heading))
    if found is None:
        logger.warning(
            f"lecture page: {docname} has no section headed {heading!r} (renamed? update "
            "lecture.md)",
            location=location,
        )
        return None
    return docname, found[0], f"{page} \N{RIGHTWARDS ARROW} {found[1]}"


def claims_in(env, docname: str, section_id: str | None) -> list[str]:
    records = store(env).get(docname, {})
    return [
        name
        for name, record in records.items()
        if record.get("anchor") and (section_id is None or section_id in record.get("sections", []))
    ]


def place_links(env, builder, places: list[str], location) -> list[nodes.Node]:
    """Where the book teaches a point, and the claims that check it (or that it is not
    covered)."""
    where = nodes.paragraph(classes=["lecture-point-where"])
    if not places:
        where += nodes.emphasis(text="Not covered by the book.")
        return [where]
    where += nodes.Text("Taught in: ")
    claims = []
    for number, place in enumerate(places):
        resolved = resolve(env, place, location)
        if resolved is None:
            continue
        docname, section_id, text = resolved
        uri = builder.get_relative_uri(LECTURE_DOC, docname)
        if section_id:
            uri += "#" + section_id
        if number:
            where += nodes.Text("; ")
        where += nodes.reference("", text, internal=True, refuri=uri)
        claims += [c for c in claims_in(env, docname, section_id) if c not in claims]
    where += nodes.Text(".")
    checked = nodes.paragraph(classes=["lecture-point-claims"])
    if claims:
        checked += nodes.Text(f"Checked by {len(claims)} claim{'s' if len(claims) > 1 else ''}: ")
        claims_uri = builder.get_relative_uri(LECTURE_DOC, CLAIMS_DOC)
        for number, name in enumerate(claims):
            if number:
                checked += nodes.Text(", ")
            link = nodes.reference("", "", internal=True, refuri=f"{claims_uri}#{anchor(name)}")
            link += _breakable_name(name)
            checked += link
        checked += nodes.Text(".")
    else:
        checked += nodes.Text("No claim of the book is made in this section: it is explained, ")
        checked += nodes.Text("not tested.")
    return [where, checked]


class FillLecturePoints(SphinxPostTransform):
    default_priority = 9

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(LecturePlacesNode)):
            node.replace_self(place_links(self.env, self.app.builder, node["places"], node))


def always_update_lecture_page(app, env) -> list[str]:
    return [LECTURE_DOC] if LECTURE_DOC in env.found_docs else []


def setup(app):
    app.add_node(LecturePlacesNode)
    app.add_directive("lecture-points", LecturePoints)
    app.add_post_transform(FillLecturePoints)
    app.connect("env-get-updated", always_update_lecture_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
