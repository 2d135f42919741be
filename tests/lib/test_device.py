"""Device choice, seeding and threads: ``get_device``, ``seed_everything``, ``seeds``,
``setup``, and the environment variables ``RNNLIB_SEED_OFFSET`` and ``RNNLIB_CPU_THREADS``."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rnnlib import get_device, seed, seed_everything, seeds, setup

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


@pytest.fixture(autouse=True)
def no_device_override(monkeypatch):
    """Tests start from a clean environment: no RNNLIB_* variable set by the caller."""
    for name in ("RNNLIB_DEVICE", "RNNLIB_SEED_OFFSET", "RNNLIB_CPU_THREADS"):
        monkeypatch.delenv(name, raising=False)


def draw_after_seeding(seed: int):
    generator = seed_everything(seed)
    return (
        torch.rand(3).tolist(),
        np.random.rand(3).tolist(),
        [random.random() for _ in range(3)],
        torch.rand(3, generator=generator).tolist(),
    )


def test_seed_everything_makes_torch_numpy_and_random_reproducible():
    first, again, other = draw_after_seeding(17), draw_after_seeding(17), draw_after_seeding(18)
    names = ["torch", "numpy", "random", "returned generator"]
    for name, a, b, c in zip(names, first, again, other, strict=True):
        assert a == b, f"{name}: the same seed gave different numbers"
        assert a != c, f"{name}: different seeds gave the same numbers"


def test_seed_everything_returns_a_cpu_generator():
    generator = seed_everything(3)
    assert isinstance(generator, torch.Generator)
    assert generator.device.type == "cpu"
    assert generator.initial_seed() == 3


@pytest.mark.skipif(HAS_CUDA or HAS_MPS, reason="an accelerator is present here")
def test_get_device_returns_cpu_without_an_accelerator():
    assert get_device() == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present, so asking for cuda succeeds")
def test_get_device_cuda_raises_when_no_gpu_is_available():
    with pytest.raises(ValueError, match=r"'cuda' was requested but is not available"):
        get_device("cuda")


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present, so asking for cuda succeeds")
def test_rnnlib_device_cuda_raises_when_no_gpu_is_available(monkeypatch):
    monkeypatch.setenv("RNNLIB_DEVICE", "cuda")
    with pytest.raises(ValueError, match=r"not available on this machine \(available: cpu"):
        get_device()


@pytest.mark.cuda
def test_get_device_picks_cuda_when_available():
    assert get_device().type == "cuda"
    assert get_device("cuda").type == "cuda"


def test_rnnlib_device_environment_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("RNNLIB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_explicit_preference_beats_the_environment_variable(monkeypatch):
    monkeypatch.setenv("RNNLIB_DEVICE", "cuda:7")
    assert get_device("cpu") == torch.device("cpu")


def test_get_device_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match=r"unknown device 'xla'"):
        get_device("xla")
    with pytest.raises(ValueError, match=r"unknown device 'gpu': expected one of cuda, mps, cpu"):
        get_device("gpu")


def test_setup_refuses_a_thread_count_below_one():
    with pytest.raises(ValueError, match="cpu_threads must be a positive integer"):
        setup(seed=0, device="cpu", cpu_threads=0, verbose=False)


def test_setup_seeds_and_prints_the_device(capsys, monkeypatch):
    monkeypatch.setenv("RNNLIB_DEVICE", "cpu")
    device = setup(seed=5)
    first = torch.rand(2).tolist()
    assert device == torch.device("cpu")
    assert "rnnlib: device = cpu" in capsys.readouterr().out
    setup(seed=5, verbose=False)
    assert torch.rand(2).tolist() == first, "setup(seed=5) twice gave different numbers"
    assert capsys.readouterr().out == "", "verbose=False should print nothing"


def test_setup_pins_cpu_threads_and_restores_on_request():
    before = torch.get_num_threads()
    try:
        device = setup(seed=0, device="cpu", cpu_threads=1, verbose=False)
        assert device.type == "cpu"
        assert torch.get_num_threads() == 1, "setup(cpu_threads=1) should use one CPU thread"
        torch.set_num_threads(2)
        setup(seed=0, device="cpu", cpu_threads=None, verbose=False)
        assert torch.get_num_threads() == 2, "cpu_threads=None must leave torch's setting alone"
    finally:
        torch.set_num_threads(before)


def test_seeds_are_consecutive_from_zero_without_an_offset():
    assert seeds(3) == [0, 1, 2]
    assert seeds(2, first=10) == [10, 11]
    assert seed(7) == 7


def test_seed_offset_shifts_every_seed(monkeypatch):
    monkeypatch.setenv("RNNLIB_SEED_OFFSET", "100")
    assert seeds(3) == [100, 101, 102]
    assert seeds(2, first=10) == [110, 111]
    assert seed(7) == 107


def test_setup_seeds_with_the_offset(capsys, monkeypatch):
    setup(seed=3, device="cpu", verbose=False)
    unshifted = torch.rand(2).tolist()
    monkeypatch.setenv("RNNLIB_SEED_OFFSET", "40")
    setup(seed=3, device="cpu")
    assert "seed = 43 (3 + RNNLIB_SEED_OFFSET=40)" in capsys.readouterr().out
    shifted = torch.rand(2).tolist()
    setup(seed=43, device="cpu", verbose=False)
    monkeypatch.delenv("RNNLIB_SEED_OFFSET")
    setup(seed=43, device="cpu", verbose=False)
    assert torch.rand(2).tolist() == shifted, "offset 40 + seed 3 should equal seed 43"
    assert shifted != unshifted


@pytest.mark.parametrize("bad", ["ten", "1.5"])
def test_a_seed_offset_that_is_not_an_integer_is_refused(monkeypatch, bad):
    monkeypatch.setenv("RNNLIB_SEED_OFFSET", bad)
    with pytest.raises(ValueError, match="RNNLIB_SEED_OFFSET must be an integer"):
        seeds(2)


def test_seeds_refuses_a_count_below_one():
    with pytest.raises(ValueError, match="positive integer"):
        seeds(0)


def test_cpu_threads_variable_overrides_setup(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("RNNLIB_CPU_THREADS", "2")
        setup(seed=0, device="cpu", verbose=False)
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("RNNLIB_CPU_THREADS", "1")
        setup(seed=0, device="cpu", cpu_threads=None, verbose=False)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", ["0", "two"])
def test_a_bad_cpu_threads_value_is_refused(monkeypatch, bad):
    monkeypatch.setenv("RNNLIB_CPU_THREADS", bad)
    with pytest.raises(ValueError, match="RNNLIB_CPU_THREADS must be"):
        setup(seed=0, device="cpu", verbose=False)
