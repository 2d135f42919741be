"""Bad inputs raise ValueError with a message naming what was expected and what came.

A tensor on ``torch.device("meta")`` stands in for "another device", so the device checks run
on a CPU-only machine; the cuda-marked test repeats one with a real cuda/cpu mismatch.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlib import GRU, LSTM, RNN, GRUCell, LSTMCell, RecurrentLayer, RNNCell

F64 = {"dtype": torch.float64}


@pytest.fixture
def rnn_cell() -> RNNCell:
    torch.manual_seed(0)
    return RNNCell(5, 4).double()


@pytest.fixture
def lstm_layer() -> RecurrentLayer:
    torch.manual_seed(0)
    return RecurrentLayer(LSTMCell(5, 4).double())


# --- rank and feature size -------------------------------------------------------------------
def test_layer_rejects_a_two_dimensional_sequence(lstm_layer):
    with pytest.raises(ValueError, match=r"3 dimensions \(batch, time, features\), got 2"):
        lstm_layer(torch.randn(7, 5, **F64))


def test_layer_names_time_first_layout_when_batch_first_is_false():
    layer = RecurrentLayer(GRUCell(5, 4).double(), batch_first=False)
    with pytest.raises(ValueError, match=r"3 dimensions \(time, batch, features\), got 2"):
        layer(torch.randn(7, 5, **F64))


@pytest.mark.parametrize("network_class", [RNN, LSTM, GRU])
def test_network_rejects_a_two_dimensional_sequence(network_class):
    network = network_class(5, 4, num_layers=2).double()
    with pytest.raises(ValueError, match=r"3 dimensions .* got 2 with shape \(7, 5\)"):
        network(torch.randn(7, 5, **F64))


def test_cell_rejects_a_three_dimensional_step(rnn_cell):
    with pytest.raises(ValueError, match=r"2 dimensions \(batch, features\), got 3"):
        rnn_cell(torch.randn(2, 3, 5, **F64))


def test_cell_rejects_wrong_feature_size(rnn_cell):
    with pytest.raises(ValueError, match=r"input_size=5, got 6"):
        rnn_cell(torch.randn(2, 6, **F64))


@pytest.mark.parametrize("network_class", [RNN, LSTM, GRU])
def test_network_rejects_wrong_feature_size(network_class):
    network = network_class(5, 4).double()
    with pytest.raises(ValueError, match=r"input_size=5, got 3"):
        network(torch.randn(2, 7, 3, **F64))


def test_layer_rejects_an_empty_sequence(lstm_layer):
    with pytest.raises(ValueError, match=r"at least one time step .* got shape \(2, 0, 5\)"):
        lstm_layer(torch.randn(2, 0, 5, **F64))


# --- dtype and device ------------------------------------------------------------------------
def test_float32_input_to_float64_model_is_rejected(lstm_layer):
    with pytest.raises(ValueError, match=r"dtype torch\.float32 .* weights are torch\.float64"):
        lstm_layer(torch.randn(2, 3, 5))


def test_float64_state_to_float32_cell_is_rejected():
    cell = GRUCell(5, 4)
    expected = r"state h has dtype torch\.float64 but .* are torch\.float32"
    with pytest.raises(ValueError, match=expected):
        cell(torch.randn(2, 5), torch.zeros(2, 4, **F64))


def test_input_on_another_device_is_rejected(rnn_cell):
    x = torch.empty(2, 5, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match=r"input is on device meta .* weights are on cpu"):
        rnn_cell(x)


def test_network_input_on_another_device_is_rejected():
    network = LSTM(5, 4).double()
    x = torch.empty(2, 3, 5, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match=r"on device meta .* on cpu"):
        network(x)


def test_state_on_another_device_is_rejected(rnn_cell):
    h = torch.empty(2, 4, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match=r"hidden state h is on device meta .* on cpu"):
        rnn_cell(torch.randn(2, 5, **F64), h)


@pytest.mark.cuda
def test_cpu_input_to_cuda_model_is_rejected():
    layer = RecurrentLayer(LSTMCell(5, 4)).to("cuda")
    with pytest.raises(ValueError, match=r"input is on device cpu .* weights are on cuda"):
        layer(torch.randn(2, 3, 5))
    network = GRU(5, 4)
    with pytest.raises(ValueError, match=r"input is on device cuda.* weights are on cpu"):
        network(torch.randn(2, 3, 5, device="cuda"))


# --- states ----------------------------------------------------------------------------------
def test_cell_rejects_hidden_state_of_wrong_shape(rnn_cell):
    with pytest.raises(ValueError, match=r"hidden state h must have shape \(2, 4\), got \(2, 3\)"):
        rnn_cell(torch.randn(2, 5, **F64), torch.zeros(2, 3, **F64))


def test_layer_rejects_hidden_state_with_wrong_batch(lstm_layer):
    h, c = torch.zeros(3, 4, **F64), torch.zeros(3, 4, **F64)
    with pytest.raises(ValueError, match=r"hidden state h must have shape \(2, 4\), got \(3, 4\)"):
        lstm_layer(torch.randn(2, 6, 5, **F64), (h, c))


def test_lstm_cell_rejects_cell_state_of_wrong_shape():
    cell = LSTMCell(5, 4).double()
    h, c = torch.zeros(2, 4, **F64), torch.zeros(2, 5, **F64)
    with pytest.raises(ValueError, match=r"cell state c must have shape \(2, 4\), got \(2, 5\)"):
        cell(torch.randn(2, 5, **F64), (h, c))


def test_lstm_cell_rejects_a_state_that_is_not_a_pair():
    cell = LSTMCell(5, 4).double()
    with pytest.raises(ValueError, match=r"pair \(h, c\) .* shape \(2, 4\), got Tensor"):
        cell(torch.randn(2, 5, **F64), torch.zeros(2, 4, **F64))


def test_lstm_layer_rejects_a_state_that_is_not_a_pair(lstm_layer):
    with pytest.raises(ValueError, match=r"pair \(h, c\) .* got Tensor"):
        lstm_layer(torch.randn(2, 3, 5, **F64), torch.zeros(2, 4, **F64))


@pytest.mark.parametrize("network_class", [RNN, GRU, LSTM])
def test_network_rejects_torch_layout_h_0_of_wrong_shape(network_class):
    network = network_class(5, 4, num_layers=2, bidirectional=True).double()
    x = torch.randn(3, 6, 5, **F64)
    wrong = torch.zeros(2, 3, 4, **F64)  # needs num_layers * directions = 4 rows
    state = (wrong, torch.zeros(4, 3, 4, **F64)) if network_class is LSTM else wrong
    with pytest.raises(ValueError, match=r"h_0 must have shape \(4, 3, 4\), got \(2, 3, 4\)"):
        network(x, state)


def test_lstm_network_rejects_c_0_of_wrong_shape():
    network = LSTM(5, 4, num_layers=2).double()
    h_0, c_0 = torch.zeros(2, 3, 4, **F64), torch.zeros(2, 3, 5, **F64)
    with pytest.raises(ValueError, match=r"c_0 must have shape \(2, 3, 4\), got \(2, 3, 5\)"):
        network(torch.randn(3, 6, 5, **F64), (h_0, c_0))


def test_lstm_network_rejects_a_state_that_is_not_a_pair():
    network = LSTM(5, 4).double()
    with pytest.raises(ValueError, match=r"pair \(h_0, c_0\) of shape \(1, 3, 4\), got Tensor"):
        network(torch.randn(3, 6, 5, **F64), torch.zeros(1, 3, 4, **F64))


# --- copying weights and nonlinearities ------------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "wrong", "expected"),
    [
        (RNNCell, nn.LSTMCell(2, 3), r"RNNCell\.from_torch expects a RNNCell, got LSTMCell"),
        (LSTMCell, nn.GRUCell(2, 3), r"LSTMCell\.from_torch expects a LSTMCell, got GRUCell"),
        (GRUCell, nn.GRU(2, 3), r"GRUCell\.from_torch expects a GRUCell, got GRU"),
        (RNN, nn.LSTM(2, 3), r"RNN\.from_torch expects a RNN, got LSTM"),
        (LSTM, nn.LSTMCell(2, 3), r"LSTM\.from_torch expects a LSTM, got LSTMCell"),
        (GRU, nn.RNN(2, 3), r"GRU\.from_torch expects a GRU, got RNN"),
    ],
    ids=lambda value: getattr(value, "__name__", None) or type(value).__name__,
)
def test_from_torch_rejects_the_wrong_module_type(ours, wrong, expected):
    with pytest.raises(ValueError, match=expected):
        ours.from_torch(wrong)


def test_from_torch_rejects_lstm_projections_and_dropout():
    with pytest.raises(ValueError, match=r"proj_size"):
        LSTM.from_torch(nn.LSTM(2, 3, proj_size=2))
    with pytest.raises(ValueError, match=r"dropout"):
        GRU.from_torch(nn.GRU(2, 3, num_layers=2, dropout=0.5))


def test_rnn_cell_to_torch_rejects_sigmoid():
    with pytest.raises(ValueError, match=r"only tanh and relu, not 'sigmoid'"):
        RNNCell(2, 3, nonlinearity="sigmoid").to_torch()


def test_rnn_network_to_torch_rejects_identity():
    with pytest.raises(ValueError, match=r"identity"):
        RNN(2, 3, nonlinearity="identity").to_torch()


@pytest.mark.parametrize("build", [RNNCell, RNN], ids=["RNNCell", "RNN"])
def test_unknown_nonlinearity_is_rejected(build):
    with pytest.raises(
        ValueError, match=r"nonlinearity must be one of \[.*'tanh'.*\], got 'swish'"
    ):
        build(2, 3, nonlinearity="swish")


@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell, GRUCell])
def test_non_positive_sizes_are_rejected(cell_class):
    with pytest.raises(ValueError, match=r"input_size must be a positive integer, got 0"):
        cell_class(0, 3)


@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell, GRUCell])
def test_a_float_size_is_rejected_at_once(cell_class):
    with pytest.raises(ValueError, match=r"hidden_size must be a positive integer, got 3.0"):
        cell_class(2, 3.0)
