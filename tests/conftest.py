"""Shared test plumbing: CUDA skipping, the device fixture and float tolerances.

Tests marked ``cuda`` (the marker is declared in pyproject.toml) are skipped with a clear
reason where ``torch.cuda.is_available()`` is False, so the suite passes on a CPU-only machine
and runs its CUDA variants unchanged where a GPU is present.
"""

from __future__ import annotations

import pytest
import torch

#: Every parity family runs once per device; the CUDA variant carries the ``cuda`` marker.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]

CUDA_SKIP_REASON = "needs a CUDA GPU: torch.cuda.is_available() is False on this machine"


def pytest_collection_modifyitems(config, items):
    """Skip every test marked ``cuda`` when no CUDA device is available."""
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason=CUDA_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip_cuda)


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """The device a parity test runs on: ``cpu``, and ``cuda`` (marked, skipped without GPU)."""
    return torch.device(request.param)
