"""The package itself: importing it is light, and every module and name is where chapters
look for it."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rnnlib


def test_import_rnnlib_does_not_import_matplotlib_or_the_heavy_modules():
    code = (
        "import rnnlib, sys; "
        "print(sorted(m for m in ('matplotlib', 'rnnlib.plots', 'rnnlib.train', "
        "'rnnlib.exercises', 'rnnlib.widgets', 'rnnlib.book') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", rnnlib.SUBMODULES)
def test_every_module_loads_on_first_use(name):
    module = getattr(rnnlib, name)
    assert module.__name__ == f"rnnlib.{name}"
    assert name in dir(rnnlib)


def test_every_public_name_of_the_package_resolves():
    missing = [name for name in rnnlib.__all__ if not hasattr(rnnlib, name)]
    assert missing == []


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        rnnlib.trian  # noqa: B018
