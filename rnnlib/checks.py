"""Input checks with error messages that say what was expected and what came.

Every public forward pass in rnnlib calls these before doing any arithmetic, so a wrong
shape, dtype or device fails at the line the reader wrote, not deep inside a matmul.
All of them raise ``ValueError``.

Not here: shape checks of a whole model's output (the layers check their own inputs and
states with these) and the exercise runner's checks of a reader's function
(:mod:`rnnlib.exercises`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = [
    "check_int",
    "check_choice",
    "check_input",
    "check_state",
    "check_same_dtype_and_device",
]


def check_int(value: Any, name: str, minimum: int = 1, *, none_ok: bool = False) -> int | None:
    """Return ``value`` if it is an integer ``>= minimum`` (or ``None`` when ``none_ok``).

    ``True`` is not an integer here (Python counts it as 1, a reader does not), nor is ``2.0``.

    >>> check_int(3, "steps")
    3
    >>> check_int(0, "steps", minimum=0)
    0
    >>> check_int(2.0, "hidden_size")
    Traceback (most recent call last):
    ...
    ValueError: hidden_size must be a positive integer, got 2.0
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        if minimum == 1:
            kind = "a positive integer"
        elif minimum == 0:
            kind = "a non-negative integer"
        else:
            kind = f"an integer >= {minimum}"
        alternative = " (or None)" if none_ok else ""
        raise ValueError(f"{name} must be {kind}{alternative}, got {value!r}")
    return value


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; otherwise name them all in the error.

    >>> check_choice("tanh", "nonlinearity", ("tanh", "relu"))
    'tanh'
    >>> check_choice("swish", "nonlinearity", ("tanh", "relu"))
    Traceback (most recent call last):
    ...
    ValueError: nonlinearity must be one of ['tanh', 'relu'], got 'swish'
    """
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_same_dtype_and_device(tensor: torch.Tensor, weight: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` unless ``tensor`` has the dtype and device of the model's ``weight``.

    >>> check_same_dtype_and_device(torch.zeros(2), torch.zeros(2, dtype=torch.float64), "input")
    Traceback (most recent call last):
    ...
    ValueError: input has dtype torch.float32 but the model's weights are torch.float64; ...
    """
    if tensor.dtype != weight.dtype:
        raise ValueError(
            f"{what} has dtype {tensor.dtype} but the model's weights are {weight.dtype}; "
            f"convert one of them, e.g. model.to({tensor.dtype}) or {what}.to({weight.dtype})"
        )
    if tensor.device != weight.device:
        raise ValueError(
            f"{what} is on device {tensor.device} but the model's weights are on "
            f"{weight.device}; move one of them, e.g. {what}.to({str(weight.device)!r})"
        )


def check_input(x: torch.Tensor, input_size: int, rank: int, layout: str, weight: torch.Tensor):
    """Check a step input ``(batch, features)`` (rank 2) or a sequence (rank 3).

    ``layout`` names the expected axes for the message, e.g. ``"(batch, time, features)"``.

    >>> W_x = torch.zeros(5, 3)
    >>> check_input(torch.zeros(2, 4), 3, 2, "(batch, features)", W_x)
    Traceback (most recent call last):
    ...
    ValueError: input's last dimension (features) must be input_size=3, got 4 ...
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"input must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(
            f"input must have {rank} dimensions {layout}, got {x.dim()} with shape {tuple(x.shape)}"
        )
    if x.shape[-1] != input_size:
        raise ValueError(
            f"input's last dimension (features) must be input_size={input_size}, "
            f"got {x.shape[-1]} (input shape {tuple(x.shape)}, expected {layout})"
        )
    check_same_dtype_and_device(x, weight, "input")


def check_state(
    state: torch.Tensor, expected_shape: tuple[int, ...], name: str, weight: torch.Tensor
) -> None:
    """Check a hidden or cell state against the shape the model needs.

    >>> check_state(torch.zeros(2, 5), (2, 4), "hidden state h", torch.zeros(4, 4))
    Traceback (most recent call last):
    ...
    ValueError: hidden state h must have shape (2, 4), got (2, 5)
    """
    if not isinstance(state, torch.Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape {expected_shape}, got {type(state).__name__}"
        )
    if tuple(state.shape) != tuple(expected_shape):
        raise ValueError(
            f"{name} must have shape {tuple(expected_shape)}, got {tuple(state.shape)}"
        )
    check_same_dtype_and_device(state, weight, name)
