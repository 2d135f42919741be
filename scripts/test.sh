#!/usr/bin/env bash
# Install everything and run every test: ruff (lint and format), rnnlib's unit tests, every
# chapter under nbval (with a per-chapter timing table at the end), the website in headless
# Chromium and the Colab-like install of chapter 1.
# Usage: bash scripts/test.sh [extra pytest arguments, e.g. -m "not slow" for the quick ones]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet -r requirements.txt

# Headless Chromium for the site test: Debian's package (CI runs as root on Debian).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends chromium
fi

# MathJax 3 from npm: the book serves its own copy from the site's static files (no CDN).
bash scripts/mathjax.sh

ruff check .
ruff format --check .

# pytest's exit codes: 0 all passed; 1 some failed; 5 no test was collected, which for us is a
# failure too (a wrong path or a missing plugin); anything else is an internal error.
status=0
python -m pytest tests chapters --nbval-lax "$@" || status=$?
case "$status" in
  0) echo "tests: all passed" ;;
  5) echo "tests: pytest collected no tests (exit 5): that is a failure" >&2; exit 5 ;;
  *) echo "tests: failed (pytest exit code $status)" >&2; exit "$status" ;;
esac
