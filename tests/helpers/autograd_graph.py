"""What an autograd graph is made of: the tests of the fused paths ask which nodes a result's
backward pass runs through (one fused node, or a node per step)."""

from __future__ import annotations

import torch


def autograd_node_names(tensor: torch.Tensor) -> set[str]:
    """The names of every node in ``tensor``'s backward graph (e.g. ``"LSTMSequenceBackward"``)."""
    names, stack, seen = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(node.name())
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names
