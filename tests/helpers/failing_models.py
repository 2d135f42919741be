"""Models that fail on purpose, shared by the training-loop tests."""

from torch import nn


class NaNAfter(nn.Module):
    """Wraps a model; its output becomes NaN from the ``after``-th call (0-based) on."""

    def __init__(self, model, after):
        super().__init__()
        self.model, self.after, self.calls = model, after, 0

    def forward(self, x):
        out = self.model(x)
        self.calls += 1
        return out * float("nan") if self.calls > self.after else out
