"""check_scale_to_spectral_radius (chapter 3): accepts torch's and numpy's eigenvalues, names
the usual wrong measures (written here as a reader would write them).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checker_output import assert_one_success_line

from rnnlib.exercises import check_scale_to_spectral_radius
from rnnlib.gradients import scale_to_spectral_radius


def scale_with_numpy(W, radius):
    """Right, written differently: numpy's eigenvalues."""
    rho = np.abs(np.linalg.eigvals(W.numpy())).max()
    return W * (radius / rho)


@pytest.mark.parametrize(
    "fn", [scale_to_spectral_radius, scale_with_numpy], ids=["reference", "numpy"]
)
def test_check_scale_to_spectral_radius_accepts_right_implementations(fn, capsys):
    check_scale_to_spectral_radius(fn)
    assert_one_success_line(capsys, "check_scale_to_spectral_radius")


def test_check_scale_to_spectral_radius_names_the_largest_singular_value():
    def fn(W, radius):
        return W * radius / torch.linalg.matrix_norm(W, ord=2)

    with pytest.raises(AssertionError, match="scales by the largest singular value"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_frobenius_norm():
    def fn(W, radius):
        return W * radius / W.norm()

    with pytest.raises(AssertionError, match="scales by the Frobenius norm"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_largest_real_part():
    def fn(W, radius):
        return W * radius / torch.linalg.eigvals(W).real.max()

    with pytest.raises(AssertionError, match="largest real part of the eigenvalues"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_the_inverse_factor():
    def fn(W, radius):
        return W * torch.linalg.eigvals(W).abs().max() / radius

    with pytest.raises(AssertionError, match="the factor is inverted"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_a_missing_division():
    def fn(W, radius):
        return radius * W

    with pytest.raises(AssertionError, match="without dividing by its current spectral radius"):
        check_scale_to_spectral_radius(fn)


def test_check_scale_to_spectral_radius_names_a_modified_input():
    def fn(W, radius):
        return W.mul_(radius / torch.linalg.eigvals(W).abs().max())

    with pytest.raises(AssertionError, match="modifies its input W in place"):
        check_scale_to_spectral_radius(fn)
