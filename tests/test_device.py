"""Device choice and seeding: ``get_device``, ``seed_everything``, ``setup``."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rnnlib import get_device, seed_everything, setup

HAS_CUDA = torch.cuda.is_available()
HAS_MPS = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


@pytest.fixture(autouse=True)
def no_device_override(monkeypatch):
    """Tests start from a clean environment: no RNNLIB_DEVICE set by the caller."""
    monkeypatch.delenv("RNNLIB_DEVICE", raising=False)


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
    with pytest.raises(RuntimeError, match=r"'cuda' was requested but is not available"):
        get_device("cuda")


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present, so asking for cuda succeeds")
def test_rnnlib_device_cuda_raises_when_no_gpu_is_available(monkeypatch):
    monkeypatch.setenv("RNNLIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match=r"not available on this machine \(available: cpu"):
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
    with pytest.raises(RuntimeError, match=r"unknown device 'xla'"):
        get_device("xla")


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
