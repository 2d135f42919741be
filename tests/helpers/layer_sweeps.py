"""The seeded sweep of single-layer shapes and flags that the layer tests share.

Batch 1, hidden 1, input 1 and T = 1 appear, and the flags cycle through every combination of
bias, batch_first, given initial state and reverse.
"""

from __future__ import annotations

import itertools
import random


def layer_cases(count: int, seed: int, max_steps: int) -> list[dict]:
    """``count`` cases of (batch, steps, input_size, hidden_size, flags, seed), reproducibly."""
    rng = random.Random(seed)
    flags = list(itertools.product([True, False], repeat=4))
    cases = []
    for index in range(count):
        bias, batch_first, given_state, reverse = flags[index % len(flags)]
        cases.append(
            {
                "batch": 1 if index % 3 == 0 else rng.randint(2, 5),
                "steps": 1 if index % 4 == 1 else rng.randint(2, max_steps),
                "input_size": 1 if index % 5 == 2 else rng.randint(2, 6),
                "hidden_size": 1 if index % 6 == 3 else rng.randint(2, 7),
                "bias": bias,
                "batch_first": batch_first,
                "given_state": given_state,
                "reverse": reverse,
                "seed": rng.randrange(2**31),
            }
        )
    return cases


def layer_case_id(case: dict) -> str:
    return (
        f"B{case['batch']}-T{case['steps']}-I{case['input_size']}-H{case['hidden_size']}"
        f"-bias{int(case['bias'])}-bf{int(case['batch_first'])}-state{int(case['given_state'])}"
        f"-rev{int(case['reverse'])}"
    )
