"""Explorers on the website: an HTML slider over precomputed figures, with no kernel.

In Jupyter, ``rnnlib.widgets.explorer`` is a live ipywidgets control. This extension sets
``rnnlib.widgets.FRAMES_VARIABLE`` before any chapter runs, so during the build each explorer
draws its figure at every point of a grid over its controls and outputs the frames (MIME type
``rnnlib.widgets.MIME_TYPE``), glued (MyST-NB) under the explorer's number. The explorer's
cell is tagged ``remove-output`` (the live widget needs a kernel; glued data survives the tag);
while the chapter is read, this extension takes the frames from ``jupyter_execute/<doc>.glue.json``,
writes each as a PNG into the site's ``_images/``
and puts under the cell a slider per control, the figure and its caption. An inline script of a
few lines swaps the image, its alt text, the caption and the value under the slider together:
no kernel, no server, no request outside the site, also opened from disk.

A cell that calls ``explorer(`` but has no frames (an execution cache from before this
extension) is a warning, so the strict build fails rather than publish a dead explorer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

from rnnlib.widgets import FRAMES_VARIABLE, GLUE_PREFIX, MIME_TYPE

logger = logging.getLogger(__name__)

#: A code cell that makes an explorer (``explorer(`` or ``rnnlib.widgets.explorer(``).
EXPLORER_CALL = re.compile(r"(?<![\w.])(?:rnnlib\.widgets\.)?explorer\(")
IMAGES = "_images"

#: Runs once per explorer (``document.currentScript`` is the explorer's own script): reads the
#: frames from the ``data-frames`` attribute and shows the frame of the controls' positions.
SCRIPT = """(() => {
  const root = document.currentScript.closest('.rnnlib-explorer');
  const data = JSON.parse(root.dataset.frames);
  const image = root.querySelector('img');
  const caption = root.querySelector('.rnnlib-explorer-caption');
  const inputs = [...root.querySelectorAll('[data-control]')];
  const show = () => {
    let index = 0;
    for (const input of inputs) {
      const control = data.controls[+input.dataset.control];
      const position = +(input.type === 'range' ? input.value : input.selectedIndex);
      index = index * control.size + position;
      if (input.type === 'range') {
        input.setAttribute('aria-valuetext', control.texts[position]);
        root.querySelector('#' + input.id + '-value').textContent = control.texts[position];
      }
    }
    const frame = data.frames[index];
    image.src = frame.src;
    image.alt = frame.alt;
    caption.textContent = frame.caption;
  };
  inputs.forEach(input => input.addEventListener('input', show));
  show();
})();"""


def setup_frames(app, config) -> None:
    """Every kernel the build starts inherits the environment: explorers precompute frames."""
    os.environ[FRAMES_VARIABLE] = "1"


def glued_frames(app, docname: str) -> list[dict]:
    """The explorers' frames glued in the executed chapter, in the order the explorers ran:
    MyST-NB writes every glued value to ``jupyter_execute/<doc>.glue.json``, also from the
    cache."""
    folder = Path(app.env.mystnb_config.output_folder)
    path = folder.joinpath(*docname.split("/")).with_name(Path(docname).name + ".glue.json")
    if not path.is_file():
        return []
    found = {}
    for key, output in json.loads(path.read_text()).items():
        if key.startswith(GLUE_PREFIX) and MIME_TYPE in output.get("data", {}):
            payload = output["data"][MIME_TYPE]
            found[int(key[len(GLUE_PREFIX) :])] = (
                json.loads(payload) if isinstance(payload, str) else payload
            )
    return [found[number] for number in sorted(found)]


def add_sliders(app, doctree) -> None:
    """Under each cell that calls ``explorer``, the next explorer's frames as a slider (the
    cells in document order, the frames in the order the kernel made them)."""
    docname = app.env.docname
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    cells = [
        container
        for container in doctree.findall(nodes.container)
        if container.get("nb_element") == "cell_code"
        and EXPLORER_CALL.search(container.astext() if container.children else "")
    ]
    if not cells:
        return
    payloads = glued_frames(app, docname)
    calls = sum(len(EXPLORER_CALL.findall(container.astext())) for container in cells)
    if len(payloads) != calls:
        logger.warning(
            f"{docname}: {calls} explorer calls but the build has frames of {len(payloads)} "
            f"({FRAMES_VARIABLE} unset when the chapter ran: an execution cache from before the "
            "explorer_slider extension? delete _build/.jupyter_cache)",
            location=cells[0],
        )
        return
    for container in cells:
        alt = container.get("cell_metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
        for number in range(len(EXPLORER_CALL.findall(container.astext()))):
            payload = payloads.pop(0)
            uid = f"explorer-{container['cell_index']}-{number}"
            frames = write_frames(app, docname, payload)
            output = nodes.container(classes=["cell_output", "rnnlib-explorer-output"])
            output += nodes.raw("", slider_html(payload, frames, uid, alt), format="html")
            container += output


def write_frames(app, docname: str, payload: dict) -> list[str]:
    """Write each frame's PNG into the site's ``_images/`` (named by its content); return the
    URLs relative to the page."""
    folder = Path(app.outdir) / IMAGES
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "../" * docname.count("/")
    urls = []
    for frame in payload["frames"]:
        png = base64.b64decode(frame["png"])
        name = f"explorer-{hashlib.sha1(png).hexdigest()[:20]}.png"
        if not (folder / name).is_file():
            (folder / name).write_bytes(png)
        urls.append(f"{prefix}{IMAGES}/{name}")
    return urls


def frame_texts(payload: dict, alt: str | None) -> list[tuple[str, str]]:
    """Each frame's (alt text, caption): where the controls stand, then what the figure shows."""
    controls = payload["controls"]
    texts = []
    for frame in payload["frames"]:
        where = ", ".join(
            f"{control['label']} = {control['texts'][control['values'].index(value)]}"
            for control, value in zip(controls, frame["values"], strict=True)
        )
        caption = f"At {where}: {frame['description']}."
        texts.append((f"{alt} {caption}" if alt else caption, caption))
    return texts


def slider_html(payload: dict, urls: list[str], uid: str, alt: str | None) -> str:
    """The explorer's HTML: the figure (first frame: every control at its initial value), its
    caption, and one labelled control per varying control (a range input for numbers, a select
    for names), with the frames' data and the script that swaps them."""
    controls = payload["controls"]
    varying = [(i, c) for i, c in enumerate(controls) if c["varies"]]
    texts = frame_texts(payload, alt)
    sizes = [len(c["values"]) for _, c in varying]
    first = 0
    for (_, control), size in zip(varying, sizes, strict=True):
        first = first * size + control["initial"]
    data = {
        "controls": [{"size": len(c["values"]), "texts": c["texts"]} for _, c in varying],
        "frames": [
            {"src": url, "alt": alt_text, "caption": caption}
            for url, (alt_text, caption) in zip(urls, texts, strict=True)
        ],
    }
    rows = []
    for position, (index, control) in enumerate(varying):
        input_id = f"{uid}-control-{index}"
        label = f'<label for="{input_id}">{html.escape(control["label"])}</label>'
        if all(isinstance(v, int | float) for v in control["values"]):
            text = control["texts"][control["initial"]]
            widget = (
                f'<input type="range" id="{input_id}" data-control="{position}" min="0" '
                f'max="{len(control["values"]) - 1}" step="1" value="{control["initial"]}" '
                f'aria-valuetext="{html.escape(text)}">'
                f'<output id="{input_id}-value" for="{input_id}">{html.escape(text)}</output>'
            )
        else:
            options = "".join(
                f"<option{' selected' if i == control['initial'] else ''}>"
                f"{html.escape(text)}</option>"
                for i, text in enumerate(control["texts"])
            )
            widget = f'<select id="{input_id}" data-control="{position}">{options}</select>'
        rows.append(f'<div class="rnnlib-explorer-control">{label}{widget}</div>')
    held = [f"{c['label']} = {c['texts'][c['initial']]}" for c in controls if not c["varies"]]
    note = (
        f'<p class="rnnlib-explorer-held">Held at {html.escape(", ".join(held))} on the website '
        "(every value in Jupyter or Colab).</p>"
        if held
        else ""
    )
    frame = data["frames"][first]
    return (
        f'<div class="rnnlib-explorer" id="{uid}" data-frames="{html.escape(json.dumps(data))}">'
        f'<div class="rnnlib-explorer-controls" role="group" aria-label="Explorer controls">'
        f"{''.join(rows)}</div>{note}"
        f'<figure class="rnnlib-explorer-figure"><img src="{html.escape(frame["src"])}" '
        f'alt="{html.escape(frame["alt"])}">'
        f'<figcaption class="rnnlib-explorer-caption" aria-live="polite">'
        f"{html.escape(frame['caption'])}</figcaption></figure>"
        f"<script>{SCRIPT}</script></div>"
    )


def setup(app):
    app.connect("config-inited", setup_frames)
    app.connect("doctree-read", add_sliders)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
