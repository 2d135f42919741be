#!/usr/bin/env bash
# Fetch MathJax 3 from npm into .cache/mathjax (once): the book serves it from its own static
# files (_extensions/offline_mathjax.py copies it into the site), so pages need no CDN.
# Called by scripts/build.sh and scripts/test.sh; needs npm (Node.js).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .cache/mathjax/node_modules/mathjax/es5/tex-mml-svg.js ]; then
  if ! command -v npm >/dev/null; then
    echo "mathjax: npm is missing; install Node.js (e.g. apt-get install npm)" >&2
    exit 1
  fi
  npm install --prefix .cache/mathjax --no-save --no-audit --no-fund mathjax@3
fi
