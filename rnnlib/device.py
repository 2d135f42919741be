"""Device selection, seeding and threads: what every chapter does first.

Two environment variables let a reader (or ``scripts/robustness.sh``) rerun a chapter under
other conditions without editing it:

* ``RNNLIB_SEED_OFFSET`` (integer, default 0) shifts every seed a chapter uses: the setup
  cell's seed and every seed of :func:`seeds` and :func:`seed`. A claim that holds only for
  seeds 0, 1, 2 is a claim about those seeds; with an offset the same chapter runs on others.
* ``RNNLIB_CPU_THREADS`` (integer >= 1) overrides the number of CPU threads that :func:`setup`
  gives torch. The thread count changes the order of floating-point sums, and so every trained
  model in its last digits.

Not here: anything that changes what a chapter computes besides seeds, threads and the device;
moving a model and its batches to the device during training (:func:`rnnlib.train.fit`);
checking that a tensor is on its model's device (:mod:`rnnlib.checks`).
"""

from __future__ import annotations

import os
import random
from typing import Literal

import numpy as np
import torch

from .checks import check_int

__all__ = ["get_device", "seed_everything", "seed_offset", "seed", "seeds", "setup"]

SEED_OFFSET_VARIABLE = "RNNLIB_SEED_OFFSET"
CPU_THREADS_VARIABLE = "RNNLIB_CPU_THREADS"
#: The environment variable that pins :func:`get_device`'s choice, like its ``prefer``.
DEVICE_VARIABLE = "RNNLIB_DEVICE"
DeviceKind = Literal["cuda", "mps", "cpu"]
#: The kinds of device :func:`get_device` chooses from, best first.
DEVICE_KINDS = ("cuda", "mps", "cpu")


def _integer_variable(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None:
        check_int(value, name, minimum)
    return value


def seed_offset() -> int:
    """The value of ``RNNLIB_SEED_OFFSET`` (0 when unset): added to every seed a chapter uses.

    >>> seed_offset()  # with RNNLIB_SEED_OFFSET unset
    0
    """
    return _integer_variable(SEED_OFFSET_VARIABLE, 0)


def seed(k: int = 0) -> int:
    """A chapter's seed number ``k``, shifted by ``RNNLIB_SEED_OFFSET``: ``k + offset``.

    >>> seed(7)  # with RNNLIB_SEED_OFFSET unset
    7
    """
    return k + seed_offset()


def seeds(n: int, first: int = 0) -> list[int]:
    """``n`` consecutive seeds starting at ``first``, shifted by ``RNNLIB_SEED_OFFSET``.

    Chapters call ``rnnlib.seeds(5)`` instead of writing ``[0, 1, 2, 3, 4]``, so that one
    environment variable reruns every experiment of the book on other seeds.

    >>> seeds(3)  # with RNNLIB_SEED_OFFSET unset
    [0, 1, 2]
    """
    check_int(n, "n")
    return [seed(first + k) for k in range(n)]


def _cpu_threads(default: int | None) -> int | None:
    """``RNNLIB_CPU_THREADS`` if set, else ``default``."""
    if not os.environ.get(CPU_THREADS_VARIABLE, "").strip():
        return default
    return _integer_variable(CPU_THREADS_VARIABLE, 1, minimum=1)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return backend is not None and backend.is_available()


def _kind(prefer: str) -> DeviceKind:
    """The kind of device ``prefer`` names (``"cuda:1"`` is a ``"cuda"``)."""
    try:
        kind = torch.device(prefer).type
    except RuntimeError:  # not a device string torch knows, e.g. "gpu"
        kind = prefer
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device {prefer!r}: expected one of {', '.join(DEVICE_KINDS)}")
    return kind


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` forces a kind (``"cuda"``, ``"mps"`` or ``"cpu"``, or a numbered one such as
    ``"cuda:1"``); asking for one that is not present raises a ``ValueError`` that says what is
    available instead. The environment variable ``RNNLIB_DEVICE`` plays the same role as
    ``prefer`` (handy to pin CI to the CPU).

    >>> get_device("cpu")
    device(type='cpu')
    >>> get_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu': expected one of cuda, mps, cpu
    """
    prefer = prefer or os.environ.get(DEVICE_VARIABLE) or None
    if prefer is not None:
        kind = _kind(prefer)
        available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
        if not available[kind]:
            present = ", ".join(k for k, ok in available.items() if ok)
            raise ValueError(
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

    The same seed gives the same draws, from the global generator and from the returned one:

    >>> _ = seed_everything(0)
    >>> first = torch.rand(2)
    >>> generator = seed_everything(0)
    >>> torch.equal(first, torch.rand(2)), torch.equal(first, torch.rand(2, generator=generator))
    (True, True)
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def setup(
    seed: int = 0, device: str | None = None, cpu_threads: int | None = 1, verbose: bool = True
) -> torch.device:
    """What a chapter's setup cell calls: seed everything, pick the device, say which.

    ``seed`` is shifted by ``RNNLIB_SEED_OFFSET`` (see :func:`rnnlib.device.seed`).

    ``cpu_threads``: on a CPU, the number of threads torch uses inside one operation
    (``torch.set_num_threads``); ``RNNLIB_CPU_THREADS``, when set, overrides it. The default, 1,
    is deliberate: the book's models are small, so a second thread mostly adds synchronisation.
    It does not make results identical across machines (another CPU runs other kernels), which
    is why the chapters' claims are checked under several seed offsets and both thread counts.
    ``None`` keeps torch's default. On a GPU it is ignored.

    >>> setup(seed=3, device="cpu", cpu_threads=None)  # doctest: +ELLIPSIS
    rnnlib: device = cpu (cpu), ... CPU thread(s), torch ..., seed = 3
    device(type='cpu')
    """
    check_int(cpu_threads, "cpu_threads", none_ok=True)
    shifted = seed + seed_offset()
    seed_everything(shifted)
    chosen = get_device(device)
    threads = _cpu_threads(cpu_threads)
    if chosen.type == "cpu" and threads is not None:
        torch.set_num_threads(threads)
    if verbose:
        name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else chosen.type
        threads_text = f", {torch.get_num_threads()} CPU thread(s)" if chosen.type == "cpu" else ""
        offset = f" ({seed} + {SEED_OFFSET_VARIABLE}={seed_offset()})" if seed_offset() else ""
        print(
            f"rnnlib: device = {chosen} ({name}){threads_text}, torch {torch.__version__}, "
            f"seed = {shifted}{offset}"
        )
    return chosen
