"""What a checker of rnnlib.exercises prints when the reader's function is right: one line."""

from __future__ import annotations


def assert_one_success_line(capsys, name: str) -> None:
    """The captured output is exactly one line, ``"{name}: correct on ..."``."""
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{name}: correct on "), lines
