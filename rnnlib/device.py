"""Device selection and seeding: the two things every chapter does first."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything", "setup"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` forces a kind (``"cuda"``, ``"mps"`` or ``"cpu"``); asking for one that is not
    present raises a ``RuntimeError`` that says what is available instead. The environment
    variable ``RNNLIB_DEVICE`` plays the same role as ``prefer`` (handy to pin CI to the CPU).
    """
    prefer = prefer or os.environ.get("RNNLIB_DEVICE") or None
    if prefer is not None:
        kind = torch.device(prefer).type
        available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
        if kind not in available:
            raise RuntimeError(f"unknown device {prefer!r}: expected one of cuda, mps, cpu")
        if not available[kind]:
            present = ", ".join(k for k, ok in available.items() if ok)
            raise RuntimeError(
                f"device {prefer!r} was requested but is not available on this machine "
                f"(available: {present}). On Colab choose Runtime > Change runtime type > GPU."
            )
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with one call.

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed`` for code that prefers an
    explicit generator to the global one.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def setup(
    seed: int = 0, device: str | None = None, cpu_threads: int | None = 1, verbose: bool = True
) -> torch.device:
    """What a chapter's setup cell calls: seed everything, pick the device, say which.

    ``cpu_threads``: on a CPU, the number of threads torch uses inside one operation
    (``torch.set_num_threads``). The default, 1, is deliberate: the book's models are small, so
    a second thread mostly adds synchronisation (on the 2-core machine that builds the book,
    chapter 4 ran in 22 s with one thread and 49 s with two), and a fixed thread count makes
    floating-point sums, and so every trained model, the same on every CPU. ``None`` keeps
    torch's default. On a GPU it is ignored.
    """
    seed_everything(seed)
    chosen = get_device(device)
    if chosen.type == "cpu" and cpu_threads is not None:
        torch.set_num_threads(cpu_threads)
    if verbose:
        name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else chosen.type
        threads = f", {torch.get_num_threads()} CPU thread(s)" if chosen.type == "cpu" else ""
        print(
            f"rnnlib: device = {chosen} ({name}){threads}, torch {torch.__version__}, seed = {seed}"
        )
    return chosen
