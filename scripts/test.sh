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

# Two rounds of pytest, each on both cores (pytest-xdist):
#  1. rnnlib's unit tests and doctests (every docstring example runs), the Colab-like install and every chapter under nbval, a chapter per
#     worker (--dist loadfile keeps a notebook's cells in one kernel). Each worker's kernel uses
#     one thread, so that two chapters side by side do not fight over the two cores. Every
#     chapter that passes is stored in the book's execution cache (conftest.py).
#  2. the website: built once from that cache (no chapter runs twice) and opened in Chromium.
# The site renders the outputs of round 1, so the chapters run as the book build runs them:
# TQDM_DISABLE, as progress bars would be dead widgets on a page; RNNLIB_EXPLORER_FRAMES, so each
# explorer precomputes the frames of its website slider (_extensions/explorer_slider.py).
export TQDM_DISABLE=1 RNNLIB_EXPLORER_FRAMES=1
run_pytest() {
  local status=0
  python -m pytest -n 2 -p no:cacheprovider "$@" || status=$?
  case "$status" in
    0) ;;
    5) if [ "$FILTERED" = 1 ]; then return 0; fi
       echo "tests: pytest collected no tests (exit 5): that is a failure" >&2 ;;
    *) echo "tests: failed (pytest exit code $status)" >&2 ;;
  esac
  return "$status"
}
# pytest's exit codes: 0 all passed; 1 some failed; 5 no test was collected, which for us is a
# failure too (a wrong path or a missing plugin), unless this script was given arguments that
# select tests (e.g. -m "not slow" selects no site test); anything else is an internal error.
FILTERED=$(( $# > 0 ))
status=0
OMP_NUM_THREADS=1 run_pytest --dist loadfile tests chapters rnnlib --nbval-lax --doctest-modules \
  --ignore tests/book/test_site.py "$@" || status=$?
site_status=0
run_pytest tests/book/test_site.py "$@" || site_status=$?
# The chapters' budgets close the run (conftest.py wrote the table in round 1).
cat test-artifacts/chapter-times.txt 2>/dev/null || true
if [ "$status" -ne 0 ] || [ "$site_status" -ne 0 ]; then
  echo "tests: failed (chapters and unit tests: exit $status; site: exit $site_status)" >&2
  exit 1
fi
echo "tests: all passed"
