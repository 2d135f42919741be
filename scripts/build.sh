#!/usr/bin/env bash
# Install everything and build the book strictly: any Sphinx warning fails the build.
# Usage: bash scripts/build.sh        (the site lands in _build/html/index.html)
# Executed notebooks are cached in _build/.jupyter_cache, so a chapter re-runs only when its code
# changed; --all re-renders every page, so warnings of unchanged pages are reported every time.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet -r requirements.txt
bash scripts/mathjax.sh  # MathJax from npm: the site serves its own copy, no CDN
# TQDM_DISABLE: training progress bars would be dead widgets on a page without a kernel
TQDM_DISABLE=1 jupyter-book build --all . -W -n --keep-going
echo "book: open _build/html/index.html"
